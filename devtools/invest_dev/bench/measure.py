"""Measuring: latencies of calls, cold starts in fresh processes, warm invocations in this one.

See the method in the docstring of `invest_dev.bench`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invest_dev.bench.environment import COLD_START_ENVIRONMENT
from invest_dev.bench.scenarios import BenchContext
from invest_dev.template import ROOT, FunctionSpec

LAYER = ROOT / "layers" / "common"
RUNTIME_PACKAGES = ROOT / ".local" / "bench-runtime"

# Runs in each fresh process: import the function's module, answer one event, report, exit at once.
_COLD_START_CHILD = """
import sys, time
started = time.perf_counter()
import importlib.util, json, os, resource
source, module_name, function_name, handler_name, event_file, result_file = sys.argv[1:7]
module_spec = importlib.util.spec_from_file_location(module_name, source)
module = importlib.util.module_from_spec(module_spec)
sys.modules[module_name] = module
module_spec.loader.exec_module(module)
imported = time.perf_counter()


def peak_rss_kib():
    # ru_maxrss of a spawned process starts at its parent's peak on Linux; VmHWM is the process's own.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Context:  # what Lambda's runtime hands the handler
    memory_limit_in_mb = 256
    aws_request_id = "cold-start"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "bench"
    function_version = "$LATEST"

    def __init__(self, name):
        self.function_name = name
        self.invoked_function_arn = "arn:aws:lambda:local:000000000000:function:" + name

    def get_remaining_time_in_millis(self):
        return 10_000


with open(event_file) as handle:
    event = json.load(handle)
reply = getattr(module, handler_name)(event, Context(function_name))
answered = time.perf_counter()
status = reply.get("statusCode") if isinstance(reply, dict) else None
with open(result_file, "w") as handle:
    json.dump({
        "import_s": imported - started,
        "first_response_s": answered - imported,
        "max_rss_kib": peak_rss_kib(),
        "status": status,
    }, handle)
os._exit(0)
"""


def measure(call: Callable[[], object], iterations: int) -> list[float]:
    """Latencies of `iterations` calls, in milliseconds."""
    return measure_prepared(lambda _: call(), lambda: None, iterations)


def measure_prepared[T](call: Callable[[T], object], prepare: Callable[[], T], iterations: int) -> list[float]:
    """Latencies of `iterations` calls, in milliseconds, each given what `prepare` returns (untimed)."""
    samples = []
    for _ in range(iterations):
        argument = prepare()
        started = time.perf_counter_ns()
        call(argument)
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def percentile(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1] if len(samples) > 1 else samples[0]


@dataclass
class ColdStart:
    total_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    import_s: list[float] = field(default_factory=list)
    first_response_s: list[float] = field(default_factory=list)
    max_rss_kib: list[int] = field(default_factory=list)
    statuses: Counter[Any] = field(default_factory=Counter)

    @property
    def median_s(self) -> float:
        return statistics.median(self.total_s)


def lambda_like_python(*args: str) -> list[str]:
    """This interpreter without site-packages: a child finds only what `lambda_path()` gives it."""
    return [sys.executable, "-S", *args]


def lambda_path() -> str:
    """PYTHONPATH of a fresh process, in Lambda's order (/var/task is the cwd): the layer, then the
    packages the layer pins and the runtime ships, installed once into RUNTIME_PACKAGES."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime_shipped = pyproject["project"]["optional-dependencies"]["aws"]
    requirements = LAYER / "requirements.txt"
    wanted = requirements.read_text(encoding="utf-8") + "\n".join(runtime_shipped)
    stamp = RUNTIME_PACKAGES / ".requirements"
    if not stamp.is_file() or stamp.read_text(encoding="utf-8") != wanted:
        shutil.rmtree(RUNTIME_PACKAGES, ignore_errors=True)
        print(f"installing the layer's requirements into {RUNTIME_PACKAGES.relative_to(ROOT)}", flush=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--target", str(RUNTIME_PACKAGES)),
                *("-c", str(ROOT / "constraints.txt"), "-r", str(requirements), *runtime_shipped),
            ],
            check=True,
        )
        stamp.write_text(wanted, encoding="utf-8")
    return f"{LAYER}{os.pathsep}{RUNTIME_PACKAGES}"


def _timed_process(argv: list[str], env: Mapping[str, str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of a child process, in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def baseline(runs: int) -> ColdStart:
    """`python -S -c pass` on this interpreter, timed like a cold start."""
    result = ColdStart()
    for _ in range(runs):
        wall, cpu = _timed_process(lambda_like_python("-c", "pass"), os.environ, ROOT)
        result.total_s.append(wall)
        result.cpu_s.append(cpu)
    return result


def cold_start(
    spec: FunctionSpec, next_event: Callable[[], Any], runs: int, env_overrides: Mapping[str, str] | None = None
) -> ColdStart:
    """`runs` fresh processes that import the function and each answer an event of `next_event()`
    (made before the process starts); see the module docstring."""
    env = {**os.environ, "PYTHONPATH": lambda_path(), **COLD_START_ENVIRONMENT, **(env_overrides or {})}
    result = ColdStart()
    with tempfile.TemporaryDirectory(prefix="invest-cold-") as scratch:
        event_file, result_file = Path(scratch, "event.json"), Path(scratch, "result.json")
        argv = lambda_like_python(
            "-c",
            _COLD_START_CHILD,
            str(spec.source),
            spec.module_name,
            spec.name,
            spec.handler_attribute,
            str(event_file),
            str(result_file),
        )
        for _ in range(runs):
            event_file.write_text(json.dumps(next_event()), encoding="utf-8")
            wall, cpu = _timed_process(argv, env, spec.code_uri)
            result.total_s.append(wall)
            result.cpu_s.append(cpu)
            child = json.loads(result_file.read_text(encoding="utf-8"))
            result.import_s.append(child["import_s"])
            result.first_response_s.append(child["first_response_s"])
            result.max_rss_kib.append(child["max_rss_kib"])
            result.statuses[child["status"]] += 1
    return result


def import_profile(spec: FunctionSpec, env: Mapping[str, str], top: int = 25) -> str:
    """The slowest imports (cumulative) of the function's module, from `python -X importtime`."""
    code = (
        "import importlib.util, sys; "
        f"s = importlib.util.spec_from_file_location({spec.module_name!r}, {str(spec.source)!r}); "
        "m = importlib.util.module_from_spec(s); sys.modules[s.name] = m; s.loader.exec_module(m)"
    )
    completed = subprocess.run(
        lambda_like_python("-X", "importtime", "-c", code),
        env={**env, "PYTHONPATH": lambda_path()},
        cwd=spec.code_uri,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in completed.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return "\n".join(f"{cumulative / 1000:8.1f} ms  {name}" for cumulative, name in rows[:top])


def _status_of(reply: Any) -> Any:
    return reply.get("statusCode") if isinstance(reply, dict) else "-"


def warm_latencies(
    ctx: BenchContext, spec: FunctionSpec, next_event: Callable[[], Any]
) -> tuple[list[float], Counter[Any]]:
    """Latencies of the handler's calls, each with an event of `next_event()` and a context made untimed."""
    from invest_dev.events import LambdaContextStub

    handler = ctx.handler(spec.name)
    statuses: Counter[Any] = Counter()

    def prepare() -> tuple[Any, LambdaContextStub]:
        return next_event(), LambdaContextStub(function_name=spec.name)

    def call(arguments: tuple[Any, LambdaContextStub]) -> None:
        statuses[_status_of(handler(*arguments))] += 1

    call(prepare())  # the container's first request: not a warm one
    statuses.clear()
    return measure_prepared(call, prepare, ctx.iterations), statuses
