"""How `make sam-api` sets sam local up, checked without Docker: the flags, the environment, the
variables the containers get, the image's cache key (devtools/invest_dev/sam/)."""

from __future__ import annotations

import json
import shutil

import pytest

from invest_dev.sam import image, local
from invest_dev.sam.image import RuntimeImage, host_architecture
from invest_dev.template import load_template


def test_local_commands_take_samconfigs_overrides_and_the_hosts_architecture():
    # When the local start-api command is made
    command = local.sam_command(["local", "start-api"], "x86_64", "--port", "4000")
    # Then it runs in samconfig.toml's local environment, the function's options before the overrides
    assert command[1:5] == ["local", "start-api", "--port", "4000"]
    assert command[command.index("--config-env") + 1] == "local"
    # And its overrides are the file's (development settings) plus the Architecture parameter
    overrides = command[command.index("--parameter-overrides") + 1].split()
    assert overrides == ["Environment=dev", "RateLimitBackend=memory", "Architecture=x86_64"]
    assert load_template()["Parameters"]["Architecture"]["Default"] == "arm64"


def test_the_template_declares_every_variable_the_env_vars_file_sets(tmp_path):
    # Given the --env-vars file of a local run (sam local sets only variables the template declares)
    path = local.write_env_vars("postgresql+pg8000://postgres@172.17.0.1:5000/invest_sam", tmp_path / "env.json")
    variables = json.loads(path.read_text())["Parameters"]
    # Then each of its variables is declared for every function, DATABASE_URL empty for deploys
    globals_env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert set(variables) <= set(globals_env)
    assert globals_env["DATABASE_URL"] == ""
    assert variables["DATABASE_URL"].startswith("postgresql+pg8000://postgres@172.17.0.1:5000/")


def test_the_shells_values_of_declared_variables_stay_out_of_sam(monkeypatch):
    # Given a shell with the test session's ENVIRONMENT and make's DATABASE_URL
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///.local/invest.db")
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    # When sam's environment is made
    env = local.sam_environment()
    # Then sam gets none of the template's variables (it would pass them on to the containers)
    assert {"ENVIRONMENT", "DATABASE_URL"} <= local.declared_variables()
    assert not local.declared_variables() & env.keys()
    assert env["SOMETHING_ELSE"] == "kept"
    assert env["SAM_CLI_TELEMETRY"] == "0"


def test_on_sqlite_every_container_mounts_the_files_directory_read_write(tmp_path):
    # Given a SQLite file outside the code sam builds
    url = f"sqlite:///{tmp_path / 'db' / 'invest.db'}"
    # When the local start-api command is made for it
    command = local.sam_command(["local", "start-api"], "x86_64", "--port", "4000", database_url=url)
    # Then sam runs through the hook that mounts the file's directory where the containers' URL points
    assert command[:4] == [
        str(local.SAM_VENV / "bin" / "python"),
        str(local.WITH_VOLUME),
        str(tmp_path / "db"),
        "/mnt/invest-db",
    ]
    assert command[4:8] == ["local", "start-api", "--port", "4000"]
    with local.container_database(url) as reachable:
        assert reachable == "sqlite:////mnt/invest-db/invest.db"
    # And the default file is the repository's, outside the build
    assert local.sqlite_file(local.DEFAULT_SQLITE_URL) == local.ROOT / ".local" / "sam" / "sqlite" / "invest.db"


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///.aws-sam/local/HealthFunction/invest.db"]
)
def test_a_sqlite_database_no_container_can_share_is_refused(url):
    # When a local run is asked for on SQLite in memory, or inside the functions' code
    with pytest.raises(local.LocalRunError) as refused:
        local.prepare(url)
    # Then it is refused before anything is built, saying why
    assert "SQLite file" in str(refused.value)


def test_the_image_is_rebuilt_only_when_one_of_its_inputs_changes(tmp_path, monkeypatch):
    # Given the image's inputs (the runtime's files, the emulator of the SAM CLI wheel)
    for name in image.RUNTIME_FILES:
        shutil.copy(image.HERE / name, tmp_path / name)
    monkeypatch.setattr(image, "HERE", tmp_path)
    emulator = tmp_path / "aws-lambda-rie"
    emulator.write_bytes(b"emulator")
    monkeypatch.setattr(RuntimeImage, "emulator", property(lambda self: emulator))
    runtime = RuntimeImage(host_architecture())
    before = runtime.inputs_hash()
    # Then the same inputs give the same key, and the image is tagged as SAM expects
    assert runtime.inputs_hash() == before
    assert runtime.tag == f"public.ecr.aws/lambda/python:3.13-{host_architecture()}"
    # When a pinned runtime package changes, or the emulator, or the architecture
    (tmp_path / "runtime-requirements.txt").write_text("awslambdaric==0.0.1\n")
    after_requirements = runtime.inputs_hash()
    emulator.write_bytes(b"another emulator")
    after_emulator = runtime.inputs_hash()
    other = RuntimeImage("arm64" if host_architecture() == "x86_64" else "x86_64").inputs_hash()
    # Then each makes another key
    assert len({before, after_requirements, after_emulator, other}) == 4
