"""Extra `make bench` scenarios: one module per area in this package, each function decorated with
`scenario`. Every module of the package is imported by the benchmark (an example:
docs/development.md#benchmarks).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from invest_dev.bench.environment import sample_event
from invest_dev.template import FunctionSpec, functions, import_function


@dataclass
class ScenarioResult:
    name: str
    samples_ms: list[float]
    note: str = ""


@dataclass
class BenchContext:
    """What a scenario gets: the sample accounts, the iteration count asked for, and invocation helpers."""

    users: Any  # invest_dev.samples.SampleUsers
    iterations: int
    runs: int

    def spec(self, function_name: str) -> FunctionSpec:
        return next(spec for spec in functions() if spec.name == function_name)

    def event(self, function_name: str) -> Any:
        """The function's sample event, with a fresh token where it has an Authorization header."""
        return sample_event(self.spec(function_name), self.users)

    def handler(self, function_name: str) -> Callable[[Any, Any], Any]:
        """The function's handler, imported once in this process and kept warm."""
        spec = self.spec(function_name)
        handler: Callable[[Any, Any], Any] = getattr(import_function(spec), spec.handler_attribute)
        return handler

    def invoke(self, function_name: str, event: Any) -> Any:
        """Invoke the function in this process; the handler's reply."""
        from invest_dev.events import LambdaContextStub

        return self.handler(function_name)(event, LambdaContextStub(function_name=function_name))


Scenario = Callable[[BenchContext], list[ScenarioResult]]
SCENARIOS: list[Scenario] = []


def scenario(function: Scenario) -> Scenario:
    """Register an extra benchmark scenario (see docs/development.md#benchmarks)."""
    SCENARIOS.append(function)
    return function


def load_scenarios() -> None:
    """Import every module of this package: their `@scenario` functions register themselves."""
    for module in pkgutil.iter_modules(__path__, __name__ + "."):
        importlib.import_module(module.name)
