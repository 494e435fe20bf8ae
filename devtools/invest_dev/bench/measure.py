"""Measuring: latencies of calls, cold starts in fresh processes, warm invocations in this one.

See the method in the docstring of `invest_dev.bench`.
"""

from __future__ import annotations

import compileall
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
REFERENCE_PACKAGES = ROOT / ".local" / "bench-reference"
REFERENCE_APP = Path(__file__).with_name("reference_app.py")
FLOOR_APP = Path(__file__).with_name("floor_app.py")

# Runs in each fresh process: import the module, answer one event, report, exit at once. Under SnapStart
# ("snapstart" argument 1) it runs, between the import and the event, what Lambda runs around the
# snapshot: the before-snapshot hooks (priming, part of init), then the after-restore hooks.
_COLD_START_CHILD = """
import sys, time
started = time.perf_counter()
import importlib.util, json, os, resource
source, module_name, function_name, handler_name, event_file, result_file, snapstart = sys.argv[1:8]
module_spec = importlib.util.spec_from_file_location(module_name, source)
module = importlib.util.module_from_spec(module_spec)
sys.modules[module_name] = module
module_spec.loader.exec_module(module)
imported = primed = restored = time.perf_counter()
if snapstart == "1":
    from snapshot_restore_py import get_after_restore, get_before_snapshot

    for hook, args, kwargs in get_before_snapshot():
        hook(*args, **kwargs)
    primed = time.perf_counter()
    for hook, args, kwargs in get_after_restore():
        hook(*args, **kwargs)
    restored = time.perf_counter()


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
started_response = time.perf_counter()
reply = getattr(module, handler_name)(event, Context(function_name))
answered = time.perf_counter()
status = reply.get("statusCode") if isinstance(reply, dict) else None
with open(result_file, "w") as handle:
    json.dump({
        "import_s": imported - started,
        "prime_s": primed - imported,
        "restore_s": restored - primed,
        "first_response_s": answered - started_response,
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
    """Fresh processes' numbers, one entry per run; times in seconds."""

    total_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    import_s: list[float] = field(default_factory=list)
    prime_s: list[float] = field(default_factory=list)  # before-snapshot hooks (SnapStart only)
    restore_s: list[float] = field(default_factory=list)  # after-restore hooks (SnapStart only)
    first_response_s: list[float] = field(default_factory=list)
    max_rss_kib: list[int] = field(default_factory=list)
    status: list[Any] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.total_s)

    @property
    def statuses(self) -> Counter[Any]:
        return Counter(self.status)

    def median_ms(self, samples: str) -> float:
        """The median of one of the lists of seconds, in milliseconds."""
        return float(statistics.median(getattr(self, samples))) * 1000

    def without_first(self) -> ColdStart:
        """The same runs but the first (the unmeasured one)."""
        return ColdStart(**{name: values[1:] for name, values in vars(self).items()})


def lambda_like_python(*args: str) -> list[str]:
    """This interpreter without site-packages: a child finds only what `lambda_path()` gives it."""
    return [sys.executable, "-S", *args]


def lambda_path() -> str:
    """PYTHONPATH of a fresh process, in Lambda's order (/var/task is the cwd): the layer, then the
    packages the layer pins and the runtime ships, installed once into RUNTIME_PACKAGES."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime_shipped = pyproject["project"]["optional-dependencies"]["aws"]
    requirements = (LAYER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return f"{LAYER}{os.pathsep}{_installed(RUNTIME_PACKAGES, [*requirements, *runtime_shipped])}"


def reference_path() -> str:
    """PYTHONPATH of the reference app: its own requirements only, at constraints.txt's pins."""
    from invest_dev.bench import reference_app

    return str(_installed(REFERENCE_PACKAGES, reference_app.REQUIREMENTS))


def _installed(target: Path, requirements: list[str]) -> Path:
    """`target` holding `requirements` (pip's syntax) pinned by constraints.txt, installed once."""
    wanted = "\n".join(requirements)
    stamp = target / ".requirements"
    if not stamp.is_file() or stamp.read_text(encoding="utf-8") != wanted:
        shutil.rmtree(target, ignore_errors=True)
        print(f"installing {len(requirements)} requirements into {target.relative_to(ROOT)}", flush=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as listed:
            listed.write(wanted)
            listed.flush()
            subprocess.run(
                [
                    *(sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target)),
                    *("-c", str(ROOT / "constraints.txt"), "-r", listed.name),
                ],
                check=True,
            )
        stamp.write_text(wanted, encoding="utf-8")
    return target


def compile_bytecode() -> None:
    """Byte-compile the layer, the handlers and the reference app, as `make build` ships them. A fresh
    process writes no bytecode where PYTHONDONTWRITEBYTECODE is set, and would compile its modules on every
    run; pip already compiled the installed packages."""
    for tree in (LAYER, ROOT / "functions"):
        compileall.compile_dir(tree, quiet=1, workers=0)
    compileall.compile_file(REFERENCE_APP, quiet=1)
    compileall.compile_file(FLOOR_APP, quiet=1)


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


@dataclass(frozen=True)
class Program:
    """What a cold start runs: a handler module by path, where (cwd, as /var/task) and with what on its path."""

    name: str  # the function name its Lambda context carries
    source: Path
    module_name: str
    handler_attribute: str
    cwd: Path
    pythonpath: str
    snapstart: bool = False

    @classmethod
    def function(cls, spec: FunctionSpec, *, snapstart: bool = False) -> Program:
        return cls(
            spec.name, spec.source, spec.module_name, spec.handler_attribute, spec.code_uri, lambda_path(), snapstart
        )

    @classmethod
    def reference(cls) -> Program:
        return cls("ReferenceApp", REFERENCE_APP, "reference_app", "handler", REFERENCE_APP.parent, reference_path())


def cold_start_once(
    program: Program, event: Any, env_overrides: Mapping[str, str], scratch: Path, result: ColdStart
) -> None:
    """One fresh process of `program` answering `event`; its numbers appended to `result`."""
    event_file, result_file = scratch / "event.json", scratch / "result.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    argv = lambda_like_python(
        "-c",
        _COLD_START_CHILD,
        *(str(program.source), program.module_name, program.name, program.handler_attribute),
        *(str(event_file), str(result_file), "1" if program.snapstart else "0"),
    )
    env = {
        **os.environ,
        "PYTHONPATH": program.pythonpath,
        "AWS_LAMBDA_FUNCTION_NAME": program.name,  # as Lambda sets it (investment_system/init_phase.py)
        **COLD_START_ENVIRONMENT,
        **env_overrides,
    }
    wall, cpu = _timed_process(argv, env, program.cwd)
    child = json.loads(result_file.read_text(encoding="utf-8"))
    result.total_s.append(wall)
    result.cpu_s.append(cpu)
    for samples in ("import_s", "prime_s", "restore_s", "first_response_s", "max_rss_kib", "status"):
        getattr(result, samples).append(child[samples])


def cold_start(
    spec: FunctionSpec,
    next_event: Callable[[], Any],
    runs: int,
    env_overrides: Mapping[str, str] | None = None,
    *,
    snapstart: bool = False,
) -> ColdStart:
    """`runs` fresh processes that import the function and each answer an event of `next_event()`
    (made before the process starts), after one unmeasured run; see the module docstring."""
    program = Program.function(spec, snapstart=snapstart)
    result = ColdStart()
    with tempfile.TemporaryDirectory(prefix="invest-cold-") as scratch:
        for _ in range(runs + 1):
            cold_start_once(program, next_event(), env_overrides or {}, Path(scratch), result)
    return result.without_first()


def paired_ratio(cold: ColdStart, reference: ColdStart) -> float:
    """The median, over the runs, of a cold start over the reference's in the same run."""
    return statistics.median(c / r for c, r in zip(cold.total_s, reference.total_s, strict=True))


@dataclass
class PairedColdStart:
    """A function's cold starts, without and with SnapStart, run by run beside the reference app's."""

    function: ColdStart
    snapstart: ColdStart
    reference: ColdStart

    @property
    def ratio(self) -> float:
        return paired_ratio(self.function, self.reference)


def paired_cold_start(
    spec: FunctionSpec, next_event: Callable[[], Any], next_reference_event: Callable[[], Any], runs: int
) -> PairedColdStart:
    """`runs` rounds of three fresh processes: the function, the reference app (in alternating order, so
    that what else the machine does weighs on both alike), then the function under SnapStart. One
    unmeasured round first (bytecode, page cache)."""
    function, reference, snapstart = _alternating(
        (Program.function(spec), Program.reference(), Program.function(spec, snapstart=True)),
        (next_event, next_reference_event, next_event),
        runs,
    )
    return PairedColdStart(function=function, snapstart=snapstart, reference=reference)


def paired_floor_cold_start(
    handler_attribute: str, next_event: Callable[[], Any], next_reference_event: Callable[[], Any], runs: int
) -> tuple[ColdStart, ColdStart]:
    """A handler of floor_app.py and the reference app, cold, in alternating order as for a function."""
    floor = Program(
        f"Floor-{handler_attribute}", FLOOR_APP, "floor_app", handler_attribute, FLOOR_APP.parent, lambda_path()
    )
    floor_result, reference = _alternating((floor, Program.reference()), (next_event, next_reference_event), runs)
    return floor_result, reference


def _alternating(
    programs: tuple[Program, ...], events: tuple[Callable[[], Any], ...], runs: int
) -> tuple[ColdStart, ...]:
    """`runs` rounds of a fresh process per program, each answering an event of its own source; the
    first two swap places every other round. One unmeasured round first (bytecode, page cache)."""
    results = tuple(ColdStart() for _ in programs)
    with tempfile.TemporaryDirectory(prefix="invest-cold-") as scratch:
        for run in range(runs + 1):
            order = list(range(len(programs)))
            if not run % 2:
                order[0], order[1] = order[1], order[0]
            for index in order:
                cold_start_once(programs[index], events[index](), {}, Path(scratch), results[index])
    return tuple(result.without_first() for result in results)


def import_profile(program: Program, env: Mapping[str, str], top: int = 25) -> str:
    """The slowest imports (cumulative) of a function's module or the reference app, from `python -X importtime`."""
    code = (
        "import importlib.util, sys; "
        f"s = importlib.util.spec_from_file_location({program.module_name!r}, {str(program.source)!r}); "
        "m = importlib.util.module_from_spec(s); sys.modules[s.name] = m; s.loader.exec_module(m)"
    )
    completed = subprocess.run(
        lambda_like_python("-X", "importtime", "-c", code),
        env={**env, "PYTHONPATH": program.pythonpath},
        cwd=program.cwd,
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
