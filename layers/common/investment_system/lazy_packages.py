"""Packages whose `__init__` only gathers its submodules' names, imported a submodule at a time.

Some of Powertools' packages and PyJWT import everything they have in `__init__`, which no function
here uses. `defer_package_imports()` replaces each in `sys.modules` by a module that imports a name's
submodule when the name is first read; a package whose `__init__` does anything else is imported as
usual, and `compatibility_problems()` names the library upgrade that made it so. Which packages, and
what each saves: docs/cold-start.md#deviations-from-library-apis.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import types
from typing import Any

PACKAGES = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi",
    "aws_lambda_powertools.event_handler.openapi.swagger_ui",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.feature_flags",
    "jwt",
)


class DeferredPackage(types.ModuleType):
    """A package module that imports the submodule behind a name when the name is first read."""

    __deferred_names__: dict[str, tuple[str, str]]

    def __getattr__(self, name: str) -> Any:
        deferred = self.__deferred_names__.get(name)
        if deferred is not None:
            value = getattr(importlib.import_module(deferred[0]), deferred[1])
            setattr(self, name, value)
            return value
        if not name.startswith("__"):
            # A submodule, as the package's __init__ would have left it set after importing it.
            submodule = f"{self.__name__}.{name}"
            try:
                return importlib.import_module(submodule)
            except ModuleNotFoundError as missing:
                if missing.name != submodule:
                    raise
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing a submodule binds it on its package. When the __init__ imports a name of the same
        # name from it (data_classes' `event_source`), the __init__'s binding is the one that holds.
        deferred = self.__deferred_names__.get(name)
        if deferred is not None and isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}":
            value = getattr(importlib.import_module(deferred[0]), deferred[1])
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.__deferred_names__})


def _plan(package: str, source: str) -> tuple[dict[str, tuple[str, str]], list[ast.stmt]] | None:
    """The names an `__init__` imports (name -> (submodule, attribute)) and its dunder assignments, or
    None when it does anything else."""
    names: dict[str, tuple[str, str]] = {}
    assignments: list[ast.stmt] = []
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        if isinstance(statement, ast.ImportFrom) and statement.module != "__future__":
            if statement.level == 1 and statement.module:
                module = f"{package}.{statement.module}"
            elif statement.level == 0 and (statement.module or "").startswith(f"{package}."):
                module = statement.module or ""
            else:
                return None
            for alias in statement.names:
                if alias.name == "*":
                    return None
                names[alias.asname or alias.name] = (module, alias.name)
        elif isinstance(statement, ast.ImportFrom):
            continue  # from __future__ import annotations
        elif isinstance(statement, ast.Assign) and all(
            isinstance(target, ast.Name) and target.id.startswith("__") and target.id.endswith("__")
            for target in statement.targets
        ):
            assignments.append(statement)
        else:
            return None
    return names, assignments


def _defer(package: str) -> None:
    if package in sys.modules:
        return
    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None or not spec.origin:
        return
    module = importlib.util.module_from_spec(spec)
    try:
        with open(spec.origin, encoding="utf-8") as init_file:
            plan = _plan(package, init_file.read())
        if plan is None:
            return
        names, assignments = plan
        module.__dict__["__deferred_names__"] = names
        module.__class__ = DeferredPackage
        # __version__, __all__ and the like: the package's own statements, run as its import would run them.
        exec(compile(ast.Module(body=assignments, type_ignores=[]), spec.origin, "exec"), module.__dict__)  # noqa: S102
    except Exception:  # an __init__ this cannot read or whose assignments need more: imported as usual
        return
    sys.modules[package] = module
    parent, _, child = package.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def defer_package_imports() -> None:
    """Defer the `__init__` of each package of PACKAGES not imported yet (at most once per process)."""
    for package in PACKAGES:
        _defer(package)


def deferred_packages() -> list[str]:
    """The packages of PACKAGES that are deferred in this process."""
    return [package for package in PACKAGES if isinstance(sys.modules.get(package), DeferredPackage)]


def compatibility_problems() -> list[str]:
    """The packages of PACKAGES whose installed `__init__` no longer only gathers names (they are imported
    as usual), each with its library's version and what to change here (empty when all hold)."""
    problems = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.submodule_search_locations is None or not spec.origin:
            change = f"{package} is no longer a package"
        else:
            with open(spec.origin, encoding="utf-8") as init_file:
                if _plan(package, init_file.read()) is not None:
                    continue
            change = f"{package}'s __init__ now does more than import names from its submodules"
        problems.append(f"{_library(package)}: {change}; remove it from PACKAGES in investment_system/lazy_packages.py")
    return problems


def _library(package: str) -> str:
    """The distribution that installs `package`, with its version ("aws-lambda-powertools 3.37.0")."""
    from importlib.metadata import packages_distributions, version

    top = package.partition(".")[0]
    distributions = packages_distributions().get(top)
    return f"{distributions[0]} {version(distributions[0])}" if distributions else top
