"""`make bench`: cold start and warm latency of every function of template.yaml.

    .venv/bin/python -m invest_dev.bench                 # everything; writes docs/benchmarks.md
    .venv/bin/python -m invest_dev.bench --only HealthFunction --no-write
    .venv/bin/python -m invest_dev.bench --importtime HealthFunction   # where a cold start goes

Method (also written into docs/benchmarks.md):
- Everything runs against a temporary SQLite database migrated with Alembic, holding the sample
  accounts of `invest_dev.samples`; events come from `events/<FunctionLogicalId>.json` (`{}` for a
  function without HTTP routes and without an event file), with a fresh bearer token where the event
  has an Authorization header. Settings: ENVIRONMENT=dev, real argon2 parameters, tracing off.
- Success paths: where the sample event refers to rows the database lacks, or succeeds only once (a
  registration, a refresh token, a password change, a signed webhook delivery), a preparer of
  `invest_dev/bench_prepare.py` seeds what it needs through the layer's services and gives each
  invocation its event (a new email, a refresh token issued for it, a fresh signature...). Preparing
  is never timed. The notes under the table say what each preparer does.
- Cold start: a fresh interpreter per run that imports the function's module (layer included),
  builds what it builds at import time and answers its event, then exits at once (no
  interpreter teardown). It sees only what Lambda would: the function's directory, the layer's
  source and its pinned requirements plus what the runtime ships (pyproject's `aws` extra),
  installed into `.local/bench-runtime/`, with `python -S` (no site-packages, no dev tools), all
  with compiled bytecode as `make build` ships it. Wall time from spawn to exit, median of --runs
  runs; import and first response are timed inside the child. CPU ms is the child's user + system
  time (RUSAGE_CHILDREN), which other work on the machine inflates less than wall time. Peak RSS
  is the child's VmHWM after the first response (`getrusage(RUSAGE_SELF).ru_maxrss` would start
  at the parent's peak: Linux carries it across fork and exec). Beside it, `python -S -c pass` on
  the same interpreter with the same method.
- Warm: the function imported once in this process, one unmeasured invocation, then --iterations
  invocations, timing only the handler's call; p50 and p99 of their latencies. Log lines and EMF metrics are
  written to /dev/null (they are still formatted and written, as in Lambda). Cold starts run the
  rate limiter (memory backend, limits too high to refuse); the warm loop runs without it, since a
  plan's requests_per_minute would refuse most of it (in production the limiter's cost is a Redis or
  DynamoDB round trip, not measured here). The statuses column says which answers were timed.
- The machine's load average is recorded: other work on the machine inflates every number.

Extra scenarios (login with the default argon2 parameters, signal lists at 1k/100k rows on SQLite
and PostgreSQL, ...) go in a module of their own under `invest_dev/bench_scenarios/`; every module
there is imported and each function decorated with `@scenario` runs after the functions:

    from invest_dev.bench import BenchContext, ScenarioResult, measure, scenario

    @scenario
    def login_latency(ctx: BenchContext) -> list[ScenarioResult]:
        event = {...}  # or ctx.event("LoginFunction")
        samples = measure(lambda: ctx.invoke("LoginFunction", event), 50)
        return [ScenarioResult("POST /v1/auth/login (argon2 defaults)", samples)]

A scenario may use `scratch_database("postgres")` for a migrated database of its own on a server
(installed as the container's engine inside the `with` block), and `cold_start(...)` to time fresh
processes with other settings (e.g. TRACING_ENABLED=true). `measure_prepared` times calls whose
argument is prepared untimed before each.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from invest_dev.template import ROOT, FunctionSpec, functions, import_function

DOCS = ROOT / "docs" / "benchmarks.md"
LAYER = ROOT / "layers" / "common"
RUNTIME_PACKAGES = ROOT / ".local" / "bench-runtime"
# Targets of issue 2: a single-module FastAPI+Mangum app of this kind starts in ~1.2 s.
COLD_START_TARGET_S = 0.6
HEALTH_COLD_START_TARGET_S = 0.4
HEALTH_FUNCTION = "HealthFunction"
SERVER_URLS = {
    "postgres": os.environ.get("BENCH_POSTGRES_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}

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


# ---------------------------------------------------------------------------------------------
# Measuring


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


# ---------------------------------------------------------------------------------------------
# Environment, database and events


def bench_environment(database_url: str) -> dict[str, str]:
    """Settings of every benchmark process: development mode with production-like costs."""
    return {
        "ENVIRONMENT": "dev",
        "DATABASE_URL": database_url,
        "TRACING_ENABLED": "false",
        "LOG_LEVEL": "INFO",
        # Cold starts run the limiter (memory backend, never refusing). The warm loop in this process
        # runs without it: a plan's requests_per_minute would refuse most of its 1000 requests.
        "RATE_LIMIT_ENABLED": "false",
        "RATE_LIMIT_BACKEND": "memory",
        "RATE_LIMIT_ANONYMOUS_PER_MINUTE": str(10**9),
    }


COLD_START_ENVIRONMENT = {"RATE_LIMIT_ENABLED": "true"}


@contextlib.contextmanager
def scratch_database(backend: str = "sqlite") -> Iterator[Any]:
    """A migrated, empty database of its own on `backend` (sqlite, postgres, mysql), installed as the
    container's engine inside the block and dropped after it. Yields the engine."""
    from invest_dev.scratch_db import create_database, drop_database
    from investment_system.db import engine as db_engine
    from investment_system.db.migrate import upgrade
    from investment_system.settings import DatabaseSettings

    with tempfile.TemporaryDirectory(prefix="invest-bench-db-") as scratch:
        name = f"invest_bench_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            url = f"sqlite:///{Path(scratch, name + '.db')}"
        else:
            url = create_database(SERVER_URLS[backend], name)
        engine = db_engine.build_engine(DatabaseSettings(url=url))
        try:
            upgrade(engine)
            db_engine.use_engine(engine)
            yield engine
        finally:
            db_engine.use_engine(None)
            engine.dispose()
            if backend != "sqlite":
                drop_database(SERVER_URLS[backend], url)


def on_enterprise_plan(user_id: uuid.UUID) -> None:
    """Put the sample user on the largest plan, so the warm loop of POST /v1/signals times creating
    signals rather than the daily quota's 429 (free allows 10 a day, enterprise 10 000)."""
    from investment_system.db.engine import unit_of_work
    from investment_system.services.subscriptions import change_plan

    with unit_of_work() as session:
        change_plan(session, user_id, "enterprise")


def has_sample_event(spec: FunctionSpec) -> bool:
    from invest_dev.samples import event_path

    return event_path(spec).is_file() or not spec.routes


def sample_event(spec: FunctionSpec, users: Any) -> Any:
    """The function's event from events/ with a fresh token; `{}` for a function without HTTP routes
    and without an event file."""
    from invest_dev.samples import event_path, load_event, with_fresh_token

    if not event_path(spec).is_file() and not spec.routes:
        return {}
    return with_fresh_token(load_event(spec), users)


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Send file descriptor 1 (logs, EMF) to /dev/null; loggers keep writing, as in Lambda."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


# ---------------------------------------------------------------------------------------------
# Scenarios


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
    """Register an extra benchmark scenario (see the module docstring)."""
    SCENARIOS.append(function)
    return function


def load_scenarios() -> None:
    from invest_dev import bench_scenarios

    for module in pkgutil.iter_modules(bench_scenarios.__path__, bench_scenarios.__name__ + "."):
        importlib.import_module(module.name)


# ---------------------------------------------------------------------------------------------
# Running and reporting


@dataclass
class FunctionResult:
    spec: FunctionSpec
    cold: ColdStart
    warm_ms: list[float]
    warm_statuses: Counter[Any]

    @property
    def target_s(self) -> float:
        return HEALTH_COLD_START_TARGET_S if self.spec.name == HEALTH_FUNCTION else COLD_START_TARGET_S


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


def _statuses(counter: Counter[Any]) -> str:
    return ", ".join(f"{status} x{count}" if len(counter) > 1 else str(status) for status, count in counter.items())


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def function_table(results: list[FunctionResult], python_pass: ColdStart, unmeasured: list[str]) -> str:
    from invest_dev.bench_prepare import NOTES

    header = (
        "| function | cold start ms (median) | CPU ms | import ms | first response ms | peak RSS MiB "
        "| target ms | warm p50 ms | warm p99 ms | statuses (cold; warm) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    rows = [
        f"| `python -S -c pass` | {_ms(python_pass.median_s)} | {_ms(statistics.median(python_pass.cpu_s))} "
        "| | | | | | | |"
    ]
    for r in results:
        verdict = "" if r.cold.median_s <= r.target_s else " **missed**"
        rows.append(
            f"| {r.spec.name} | {_ms(r.cold.median_s)} | {_ms(statistics.median(r.cold.cpu_s))} "
            f"| {_ms(statistics.median(r.cold.import_s))} "
            f"| {_ms(statistics.median(r.cold.first_response_s))} "
            f"| {max(r.cold.max_rss_kib) / 1024:.0f} | {_ms(r.target_s)}{verdict} "
            f"| {percentile(r.warm_ms, 50):.2f} | {percentile(r.warm_ms, 99):.2f} "
            f"| {_statuses(r.cold.statuses)}; {_statuses(r.warm_statuses)} |"
        )
    rows += [f"| {name} | no sample event in events/: not measured | | | | | | | | |" for name in unmeasured]
    notes = [f"- {r.spec.name}: {NOTES[r.spec.name]}" for r in results if r.spec.name in NOTES]
    return header + "\n".join(rows) + "\n" + ("\nNotes:\n\n" + "\n".join(notes) + "\n" if notes else "")


def scenario_table(results: list[ScenarioResult]) -> str:
    if not results:
        return "No extra scenarios registered (see `invest_dev/bench_scenarios/`).\n"
    rows = [
        f"| {r.name} | {len(r.samples_ms)} | {percentile(r.samples_ms, 50):.2f} | {percentile(r.samples_ms, 99):.2f} "
        f"| {r.note} |"
        for r in results
    ]
    return "| scenario | n | p50 ms | p99 ms | note |\n|---|---:|---:|---:|---|\n" + "\n".join(rows) + "\n"


def load_average() -> str:
    return " / ".join(f"{load:.1f}" for load in os.getloadavg())


def environment_summary(load_before: str, load_after: str) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or platform.machine(),
    )
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("aws-lambda-powertools", "SQLAlchemy", "pydantic", "alembic")
    )
    return (
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"- Python {platform.python_version()} ({sys.executable.replace(str(ROOT) + '/', '')}); {versions}\n"
        f"- Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}\n"
        f"- Load average (1/5/15 min): {load_before} before, {load_after} after\n"
    )


def render_report(
    results: list[FunctionResult],
    unmeasured: list[str],
    scenario_results: list[ScenarioResult],
    python_pass: ColdStart,
    runs: int,
    n: int,
    load_before: str,
) -> str:
    method = __doc__.split("Method (also written into docs/benchmarks.md):\n", 1)[1].split("\n\nExtra scenarios", 1)[0]
    method = method.replace("--runs runs", f"{runs} runs").replace("--iterations", str(n))
    return (
        "# Benchmarks\n\n"
        "Generated by `make bench` (`devtools/invest_dev/bench.py`); regenerate it after changing a function "
        "or the layer.\n\n"
        f"{environment_summary(load_before, load_average())}\n"
        "## Method\n\n"
        f"{method}\n\n"
        "## Functions\n\n"
        f"Targets: cold start at most {_ms(COLD_START_TARGET_S)} ms, `GET /v1/health` at most "
        f"{_ms(HEALTH_COLD_START_TARGET_S)} ms (a single-module FastAPI+Mangum app of this kind starts in ~1.2 s).\n\n"
        f"{function_table(results, python_pass, unmeasured)}\n"
        "## Scenarios\n\n"
        f"{scenario_table(scenario_results)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invest-bench", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per cold start (median; >= 5)")
    parser.add_argument("--iterations", type=int, default=1000, help="warm invocations per function (>= 1000)")
    parser.add_argument("--only", nargs="*", default=None, help="logical IDs of the functions to measure")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--no-scenarios", action="store_true", help="skip the extra scenarios")
    parser.add_argument("--importtime", metavar="FUNCTION", help="print the slowest imports of one function")
    args = parser.parse_args(argv)

    load_before = load_average()
    if os.getloadavg()[0] > (os.cpu_count() or 1) / 2:
        print(f"warning: the machine is busy (load {load_before}); the numbers will be inflated", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="invest-bench-") as scratch:
        # Before any investment_system import: settings are read once per process.
        os.environ.update(bench_environment(f"sqlite:///{Path(scratch, 'bench.db')}"))
        os.environ.pop("METRICS_FILE", None)
        specs = [spec for spec in functions() if args.only is None or spec.name in args.only]
        if args.importtime:
            print(import_profile(next(s for s in functions() if s.name == args.importtime), os.environ))
            return 0

        from invest_dev.bench_prepare import event_source
        from invest_dev.samples import seed_sample_users
        from investment_system.db.migrate import upgrade

        upgrade()
        users = seed_sample_users()
        on_enterprise_plan(users.user_id)
        ctx = BenchContext(users=users, iterations=args.iterations, runs=args.runs)
        python_pass = baseline(args.runs)
        print(f"python -S -c pass: {_ms(python_pass.median_s)} ms (median of {args.runs})", flush=True)

        results = []
        unmeasured = [spec.name for spec in specs if not has_sample_event(spec)]
        for spec in specs:
            if spec.name in unmeasured:
                print(f"{spec.name}: no sample event in events/, not measured", file=sys.stderr)
                continue
            next_event = event_source(spec.name, sample_event(spec, ctx.users), ctx.users)
            cold = cold_start(spec, next_event, args.runs)
            with stdout_to_devnull():
                warm_ms, warm_statuses = warm_latencies(ctx, spec, next_event)
            results.append(FunctionResult(spec, cold, warm_ms, warm_statuses))
            print(
                f"{spec.name}: cold {_ms(cold.median_s)} ms, warm p50 {percentile(warm_ms, 50):.2f} ms",
                flush=True,
            )

        scenario_results: list[ScenarioResult] = []
        if not args.no_scenarios:
            load_scenarios()
            for run_scenario in SCENARIOS:
                with stdout_to_devnull():
                    scenario_results.extend(run_scenario(ctx))

        from investment_system.db.engine import dispose_engine

        dispose_engine()

    report = render_report(results, unmeasured, scenario_results, python_pass, args.runs, args.iterations, load_before)
    print("\n" + function_table(results, python_pass, unmeasured) + "\n" + scenario_table(scenario_results))
    if not args.no_write:
        DOCS.write_text(report, encoding="utf-8")
        print(f"wrote {DOCS.relative_to(ROOT)}")
    missed = [r.spec.name for r in results if r.cold.median_s > r.target_s]
    if missed:
        print(f"cold-start target missed by: {', '.join(missed)} (see --importtime)", file=sys.stderr)
    return 1 if unmeasured else 0


if __name__ == "__main__":
    # Run as invest_dev.bench, not __main__: scenario modules register with `invest_dev.bench.scenario`.
    from invest_dev.bench import main as bench_main

    sys.exit(bench_main())
