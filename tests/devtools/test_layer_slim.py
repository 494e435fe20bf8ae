"""The layer's build leaves out what no function loads (layers/common/slim_layer.py): SQLAlchemy's test
suite and unused dialects, alembic's test helpers, the compiled extensions' debug symbols."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import alembic
import sqlalchemy

SLIM = Path(__file__).resolve().parents[2] / "layers/common/slim_layer.py"
STRIP = shutil.which("llvm-strip") or shutil.which("strip") or "strip"


def _slim_module():
    spec = importlib.util.spec_from_file_location("slim_layer", SLIM)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _debug_sections(extension: Path) -> int:
    sections = subprocess.run(["readelf", "-S", "--wide", str(extension)], capture_output=True, text=True, check=True)
    return sections.stdout.count(".debug_")


def test_the_slim_layer_keeps_what_the_api_runs_and_drops_the_rest(tmp_path):
    # Given a layer holding SQLAlchemy and alembic as pip installs them, extensions with debug symbols
    layer = tmp_path / "python"
    for package in (sqlalchemy, alembic):
        source = Path(str(package.__file__)).parent
        shutil.copytree(source, layer / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    extensions = sorted(layer.rglob("*.so"))
    assert extensions
    assert sum(_debug_sections(extension) for extension in extensions) > 0
    before = sum(file.stat().st_size for file in layer.rglob("*") if file.is_file())

    # When the build slims it
    _slim_module().slim(layer, STRIP)

    # Then the test suites, SQL Server and Oracle are gone, and no extension has debug sections
    for gone in ("sqlalchemy/testing", "sqlalchemy/dialects/mssql", "sqlalchemy/dialects/oracle", "alembic/testing"):
        assert not (layer / gone).exists(), gone
    assert not list(layer.glob("sqlalchemy/dialects/*/provision.py"))
    assert [extension for extension in extensions if _debug_sections(extension)] == []
    after = sum(file.stat().st_size for file in layer.rglob("*") if file.is_file())
    assert after < before
    # And what the API runs still works from it: the ORM with its compiled extensions, the three
    # databases' dialects and drivers' names, and alembic's commands
    probe = (
        "import sqlalchemy, alembic.command\n"
        "from sqlalchemy import create_engine, text\n"
        "from sqlalchemy.orm import Session\n"
        "from sqlalchemy.util import has_compiled_ext\n"
        "from sqlalchemy.dialects import registry\n"
        "assert sqlalchemy.__file__.startswith(sys.argv[1]) and has_compiled_ext()\n"
        "for name in ('postgresql.pg8000', 'mysql.pymysql', 'sqlite.pysqlite'): registry.load(name)\n"
        "with Session(create_engine('sqlite://')) as session: assert session.execute(text('select 1')).scalar() == 1\n"
    )
    subprocess.run(
        [sys.executable, "-c", "import sys\nsys.path.insert(0, sys.argv[1])\n" + probe, str(layer)], check=True
    )
