"""Packages whose `__init__` only gathers its submodules' names, imported a submodule at a time.

Some of Powertools' packages and PyJWT import everything they have in `__init__`, which no function
here uses. `defer_package_imports()` replaces each in `sys.modules` by a module that imports a name's
submodule when the name is first read; a package whose `__init__` does anything else is imported as
usual (`deferred_packages()`, checked by a test). `DeferredModule` defers a module imported only to be
kept at hand. Which packages, and what it saves: docs/cold-start.md.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

PACKAGES = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi",
    "aws_lambda_powertools.event_handler.openapi.swagger_ui",
    "aws_lambda_powertools.utilities.data_classes",
    "jwt",
)
# (package, module): the module is made lazy before its package, which imports it, is imported.
MODULES = (("aws_lambda_powertools.utilities", "jmespath_utils"),)


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


class DeferredModule(types.ModuleType):
    """A module whose code runs when one of its names is first read; its dunders are there before."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        loader = self.__spec__.loader if self.__spec__ else None
        if loader is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        self.__class__ = types.ModuleType  # type: ignore[assignment]  # plain from here on, as an import makes it
        loader.exec_module(self)
        return getattr(self, name)


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


def _defer_whole(package: str, name: str) -> None:
    module_name = f"{package}.{name}"
    top = importlib.util.find_spec(package.partition(".")[0])  # finds without importing
    if module_name in sys.modules or top is None or not top.submodule_search_locations:
        return
    # Found without importing its packages: Powertools' __init__ imports the logger, which imports it.
    directories = [str(Path(location, *package.split(".")[1:])) for location in top.submodule_search_locations]
    spec = importlib.machinery.PathFinder.find_spec(module_name, directories)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = DeferredModule
    sys.modules[module_name] = module
    setattr(importlib.import_module(package), name, module)


def defer_package_imports() -> None:
    """Defer the `__init__` of each package of PACKAGES, and each module of MODULES, not imported yet
    (at most once per process)."""
    for package, name in MODULES:
        _defer_whole(package, name)
    for package in PACKAGES:
        _defer(package)


def deferred_packages() -> list[str]:
    """The packages of PACKAGES that are deferred in this process."""
    return [package for package in PACKAGES if isinstance(sys.modules.get(package), DeferredPackage)]


def deferred_modules() -> list[str]:
    """The modules of MODULES that are deferred and not loaded yet in this process."""
    modules = {name: sys.modules.get(name) for name in (f"{package}.{name}" for package, name in MODULES)}
    return [name for name, module in modules.items() if isinstance(module, DeferredModule)]
