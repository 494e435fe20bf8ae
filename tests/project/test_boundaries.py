"""Boundaries the import linters cannot see: a handler never holds a database session (it names a service
use case; the service layer runs it in its unit of work)."""

import ast
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
HANDLERS = sorted(FUNCTIONS.rglob("*.py"))


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: str(path.relative_to(FUNCTIONS)))
def test_a_handler_never_names_a_session(handler: Path):
    tree = ast.parse(handler.read_text(encoding="utf-8"))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    assert not {name for name in names if "session" in name.lower()}, (
        f"{handler.name} handles a session: pass the service's use case (or its step) to http instead"
    )
