"""Facts that keep the project's generated and duplicated artefacts in step."""

import json
import re
import tomllib
from pathlib import Path

from invest_dev.generate import generated_files
from invest_dev.openapi import BUNDLED
from invest_dev.template import TEMPLATE, functions, load_template

ROOT = Path(__file__).resolve().parents[2]


def _requirement_pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.split(r"==", line, maxsplit=1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_layer_requirements_pin_the_project_dependencies_at_the_tested_versions():
    # sam build reads layers/common/requirements.txt; pip reads pyproject.toml and constraints.txt
    project = _requirement_pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    layer = _requirement_pins((ROOT / "layers/common/requirements.txt").read_text().splitlines())
    constraints = _requirement_pins((ROOT / "constraints.txt").read_text().splitlines())
    assert {name: layer.get(name) for name in project} == project
    assert {name: constraints.get(name) for name in layer} == layer


def test_every_dependency_is_pinned_in_the_constraints_file():
    constraints = _requirement_pins((ROOT / "constraints.txt").read_text().splitlines())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for name, version in _requirement_pins(project["dependencies"]).items():
        assert constraints.get(name) == version, name


def test_every_generated_file_is_current():
    # Given what `invest generate` writes now from the functions and the code: the OpenAPI document the
    # catch-all and docs functions serve, the monitoring stack and its resource in template.yaml
    stale = [path.relative_to(ROOT) for path, text in generated_files().items() if path.read_text() != text]
    # Then each committed file reads the same
    assert not stale, f"run `make generate` and commit the result: {stale} differ"


def test_openapi_documents_the_error_envelope_on_every_operation():
    document = json.loads(BUNDLED.read_text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "422", "500"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, status)


def test_settings_page_lists_every_environment_variable():
    from investment_system.settings import ENV_VARS

    # Given the documentation site's settings page
    page = (ROOT / "docs" / "settings.md").read_text()
    # Then every variable the settings read has a row in its table
    rows = {row.split("|")[1] for row in page.splitlines() if row.startswith("| `")}
    missing = [name for name in ENV_VARS if not any(f"`{name}`" in row for row in rows)]
    assert not missing, f"the table of docs/settings.md lacks {missing}"


def test_every_operation_documents_its_success_response():
    document = json.loads(BUNDLED.read_text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)


def test_the_package_ruff_mypy_and_the_makefile_name_the_lambda_runtimes_python():
    # Given the Python of the Lambda runtime the template deploys
    runtime = load_template()["Globals"]["Function"]["Runtime"]
    version = runtime.removeprefix("python")
    # Then the template names no other (the layer's runtimes and build method included)
    assert set(re.findall(r"python3\.\d+", TEMPLATE.read_text())) == {runtime}
    # And the package requires it, ruff and mypy check code for it, and the Makefile builds with it
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == f">={version}"
    assert project["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert project["tool"]["mypy"]["python_version"] == version
    assert re.findall(r"^PYTHON_VERSION := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE) == [version]


def test_mypy_checks_every_function_the_template_deploys():
    # Given the paths mypy checks
    checked = [ROOT / path for path in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]]
    # Then every function's handler module lies under one of them
    unchecked = [spec.source for spec in functions() if not any(spec.source.is_relative_to(p) for p in checked)]
    assert not unchecked


def test_the_migrate_functions_head_revision_is_the_newest_migration():
    # Given the migration scripts, as Alembic reads them (importing each)
    from alembic.script import ScriptDirectory

    from investment_system.db.migrate import HEAD_REVISION, MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    # Then the revision the migrate function compares the database's with, read from their lines, is their head
    assert head == HEAD_REVISION, f"db/migrate.py reads {HEAD_REVISION!r}, Alembic {head!r}"
