"""Powertools' internals are reached from one module, and its assumptions hold for the installed version."""

import ast
from pathlib import Path

from investment_system.http.compat import compatibility_problems

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "layers/common/investment_system/http/compat.py"
# SQLAlchemy's internals (compiling into an engine's cache for SnapStart priming) have a module of their own,
# and so have the database drivers' (pg8000's socket and protocol messages).
SQLALCHEMY_COMPAT = ROOT / "layers/common/investment_system/db/compat.py"
DRIVERS = ROOT / "layers/common/investment_system/db/drivers.py"
PRIVATE_CONTEXT_KEYS = {"_route", "_route_args", "_dependency_cache", "_request"}


def _private_uses(path: Path) -> list[str]:
    """Private Powertools names a module touches: imported `_names`, `obj._attr` on anything but
    self/cls (SQLAlchemy's documented `Row._mapping` aside) and Powertools' private context keys."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aws_lambda_powertools"):
            found += [f"imports {alias.name}" for alias in node.names if alias.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner not in {"self", "cls"} and node.attr != "_mapping":
                found.append(f"uses .{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in PRIVATE_CONTEXT_KEYS:
            found.append(f"uses the context key {node.value!r}")
    return [f"{path.relative_to(ROOT)}:{use}" for use in found]


def test_the_installed_powertools_still_has_what_the_compat_module_relies_on():
    # Given the installed Powertools
    # When the compatibility module checks each of its assumptions
    problems = compatibility_problems()
    # Then all hold (an upgrade that breaks one names the module to mend)
    assert problems == [], "\n".join(problems)


def test_a_broken_assumption_names_the_powertools_version_and_the_module_to_adapt(monkeypatch):
    # Given a Powertools that no longer keeps the request's route where the compat module reads it
    from importlib.metadata import version

    from investment_system.http import compat

    monkeypatch.setattr(compat, "_ROUTE_KEY", "_route_moved")
    # When the compatibility module checks its assumptions
    problems = compatibility_problems()
    # Then the one problem names the installed version, what changed and the module to adapt
    assert problems == [
        f"aws-lambda-powertools {version('aws-lambda-powertools')}: "
        'app.context["_route_moved"] no longer holds the registered route during a request; '
        "adapt investment_system/http/compat.py"
    ]


def test_serving_requests_leaves_powertools_modules_as_shipped():
    # Given an app of the layer's factory with a route taking the caller (a Powertools dependency)
    import typing

    from aws_lambda_powertools.event_handler import depends

    from investment_system.http import create_app
    from investment_system.http.auth import CurrentUser
    from investment_system.http.compat import registered_routes

    app = create_app()

    @app.get("/v1/probe")
    def probe(user: CurrentUser) -> dict[str, str]:
        return {}

    # When its routes are primed as before a SnapStart snapshot
    from investment_system.http.resolver import prime

    prime(app)
    # Then Powertools' dependency module still resolves with its own functions: nothing is patched
    assert registered_routes(app)
    assert depends.get_type_hints is typing.get_type_hints
    assert depends.build_dependency_tree.__module__ == depends.__name__
    assert not hasattr(depends.build_dependency_tree, "cache_info")


def test_no_module_but_the_compat_module_touches_powertools_internals():
    # Given every module of the layer and every handler
    modules = [*ROOT.glob("layers/common/investment_system/**/*.py"), *ROOT.glob("functions/**/*.py")]
    # When their private uses are collected
    uses = [use for path in modules if path not in (COMPAT, SQLALCHEMY_COMPAT, DRIVERS) for use in _private_uses(path)]
    # Then there are none outside http/compat.py (and db/compat.py, SQLAlchemy's; db/drivers.py, the drivers')
    assert uses == []


def test_the_scan_sees_a_private_use():
    # Given the compat module itself, which touches the internals on purpose
    # When it is scanned
    uses = _private_uses(COMPAT)
    # Then the scan reports them (so an empty result elsewhere means something)
    assert any("_DEPENDS_CACHE_KEY" in use for use in uses)
    assert any("_static_routes" in use for use in uses)
    assert any("_compile_w_cache" in use for use in _private_uses(SQLALCHEMY_COMPAT))
    assert any("_flush" in use for use in _private_uses(DRIVERS))
