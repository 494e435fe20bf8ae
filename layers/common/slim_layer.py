"""Make the built layer lighter: what no function loads is left out of what a cold start downloads.

python3.13 slim_layer.py DIR STRIP REPORT   (the layer's Makefile, after pip installed the wheels into DIR)

- SQLAlchemy's test suite (`sqlalchemy.testing`, and each dialect's `provision.py` that only it uses)
  and the dialects of databases the API does not run on (SQL Server, Oracle); alembic's test helpers.
- The compiled extensions' debug symbols (`STRIP --strip-debug`; llvm-strip handles the arm64 wheels
  on any machine). What the code runs is unchanged: the symbol tables the loader uses stay.
REPORT (JSON) gets DIR's size before and after, which `make bench` reports.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

UNUSED = (
    "sqlalchemy/testing",
    "sqlalchemy/dialects/mssql",
    "sqlalchemy/dialects/oracle",
    "alembic/testing",
)
UNUSED_FILES = ("sqlalchemy/dialects/*/provision.py",)


def tree_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def slim(layer: Path, strip: str) -> None:
    for relative in UNUSED:
        shutil.rmtree(layer / relative, ignore_errors=True)
    for pattern in UNUSED_FILES:
        for path in layer.glob(pattern):
            path.unlink()
    for extension in sorted({*layer.rglob("*.so"), *layer.rglob("*.so.*")}):
        subprocess.run([strip, "--strip-debug", str(extension)], check=True)  # noqa: S603 (the build's own tool)


if __name__ == "__main__":
    directory, strip_tool, report = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    if shutil.which(strip_tool) is None:
        sys.exit(f"slim_layer.py: {strip_tool} not found (apt-get install llvm, or STRIP= a strip for the target)")
    before = tree_bytes(directory)
    slim(directory, strip_tool)
    report.write_text(json.dumps({"before_bytes": before, "after_bytes": tree_bytes(directory)}) + "\n")
