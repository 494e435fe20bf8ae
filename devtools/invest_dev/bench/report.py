"""The benchmark's report: the tables it prints and docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from invest_dev.bench.measure import ColdStart, PairedColdStart, paired_ratio, percentile
from invest_dev.bench.method import METHOD
from invest_dev.bench.scenarios import ScenarioResult
from invest_dev.bench.sizes import Sizes, size_table
from invest_dev.template import ROOT, FunctionSpec

DOCS = ROOT / "docs" / "benchmarks.md"

# The reference app's routes (invest_dev/bench/reference_app.py). A function with one of them is
# paired with the reference answering the same event; a function that hashes a password with its
# login; every other with its GET /v1/signals/{id} (a bearer token, the caller's rows, a pydantic
# response: what most functions do).
REFERENCE_ROUTES = {
    "HealthFunction": "GET /v1/health",
    "LoginFunction": "POST /v1/auth/login",
    "ListSignalsFunction": "GET /v1/signals",
    "GetSignalFunction": "GET /v1/signals/{id}",
}
DEFAULT_REFERENCE = "GetSignalFunction"

# Targets, as ratios of the reference app's cold start in the same runs (issue 13).
NO_DATABASE_FUNCTIONS = {"DocsFunction", "NotFoundFunction", "ListPlansFunction"}
NO_DATABASE_RATIO = 0.25
HEALTH_FUNCTION = "HealthFunction"
HEALTH_RATIO = 0.35
MAX_RATIO = 0.85
MEDIAN_RATIO = 0.7
# Under SnapStart, the first invocation after restore costs at most this many times the warm p50, plus the slack.
SNAPSTART_P50_FACTOR = 2
SNAPSTART_SLACK_MS = 5.0


# The floors (invest_dev/bench/floor_app.py): its handler, what it holds, the function whose reference
# route it is paired with, and the target it bounds from below.
FLOORS = (
    ("handler", "floor: Powertools + pydantic", DEFAULT_REFERENCE, NO_DATABASE_RATIO),
    ("database_handler", "floor: Powertools + pydantic + SQLAlchemy, SELECT 1", HEALTH_FUNCTION, HEALTH_RATIO),
)


# The functions that hash or verify a password are paired with the reference's login, which verifies one.
PASSWORD_FUNCTIONS = {"RegisterFunction", "ChangePasswordFunction"}


def reference_route(function_name: str) -> str:
    """The function whose sample event the reference app answers beside `function_name`."""
    if function_name in PASSWORD_FUNCTIONS:
        return "LoginFunction"
    return function_name if function_name in REFERENCE_ROUTES else DEFAULT_REFERENCE


@dataclass
class FunctionResult:
    spec: FunctionSpec
    cold: PairedColdStart
    warm_ms: list[float]
    warm_statuses: Counter[Any]

    @property
    def target_ratio(self) -> float:
        if self.spec.name in NO_DATABASE_FUNCTIONS:
            return NO_DATABASE_RATIO
        return HEALTH_RATIO if self.spec.name == HEALTH_FUNCTION else MAX_RATIO

    @property
    def snapstart_target_ms(self) -> float:
        return SNAPSTART_P50_FACTOR * percentile(self.warm_ms, 50) + SNAPSTART_SLACK_MS

    @property
    def snapstart_first_ms(self) -> float:
        return self.cold.snapstart.median_ms("first_response_s")


@dataclass
class FloorResult:
    label: str
    reference_function: str
    bounded_target: float
    floor: ColdStart
    reference: ColdStart

    @property
    def ratio(self) -> float:
        return paired_ratio(self.floor, self.reference)


@dataclass
class Baselines:
    """What the cold starts are read against besides the reference app: `python -S -c pass`, and the floors."""

    python_pass: ColdStart
    floors: list[FloorResult]


def floor_findings(floors: list[FloorResult]) -> list[str]:
    """Each floor at or above the target it bounds: that target cannot hold with these libraries."""
    return [
        f"{f.label} starts in {f.ratio:.2f}x the reference, the target it bounds is {f.bounded_target:.2f}x"
        for f in floors
        if f.ratio >= f.bounded_target
    ]


def missed_targets(results: list[FunctionResult]) -> list[str]:
    """Each target that did not hold, said in a line."""
    missed = [
        f"{r.spec.name}: cold start {r.cold.ratio:.2f}x the reference (target {r.target_ratio:.2f}x)"
        for r in results
        if r.cold.ratio > r.target_ratio
    ]
    missed += [
        f"{r.spec.name}: first invocation after a SnapStart restore {r.snapstart_first_ms:.1f} ms "
        f"(target {r.snapstart_target_ms:.1f} ms)"
        for r in results
        if r.snapstart_first_ms > r.snapstart_target_ms
    ]
    if results and (median := statistics.median(r.cold.ratio for r in results)) > MEDIAN_RATIO:
        missed.append(f"the median function: {median:.2f}x the reference (target {MEDIAN_RATIO:.2f}x)")
    return missed


def _statuses(counter: Counter[Any]) -> str:
    return ", ".join(f"{status} x{count}" if len(counter) > 1 else str(status) for status, count in counter.items())


def ms(seconds: float) -> str:
    """Seconds as whole milliseconds."""
    return f"{seconds * 1000:.0f}"


def _verdict(holds: bool) -> str:
    return "" if holds else " **missed**"


def cold_start_table(results: list[FunctionResult], baselines: Baselines) -> str:
    """Without SnapStart: fresh process to first response, beside the reference app in the same runs."""
    header = (
        "| function | cold start ms | reference ms (route) | ratio | target | import ms | first response ms "
        "| CPU ms | peak RSS MiB | statuses |\n"
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|\n"
    )
    python_pass = baselines.python_pass
    rows = [
        f"| `python -S -c pass` | {ms(python_pass.median_s)} | | | | | | "
        f"{ms(statistics.median(python_pass.cpu_s))} | | |"
    ]
    for f in baselines.floors:
        rows.append(
            f"| _{f.label}_ | {ms(f.floor.median_s)} | {ms(f.reference.median_s)} "
            f"({REFERENCE_ROUTES[f.reference_function]}) | {f.ratio:.2f} | (bounds {f.bounded_target:.2f}) "
            f"| {f.floor.median_ms('import_s'):.0f} | {f.floor.median_ms('first_response_s'):.0f} "
            f"| {ms(statistics.median(f.floor.cpu_s))} | {max(f.floor.max_rss_kib) / 1024:.0f} "
            f"| {_statuses(f.floor.statuses)}; reference {_statuses(f.reference.statuses)} |"
        )
    for r in results:
        cold, reference = r.cold.function, r.cold.reference
        rows.append(
            f"| {r.spec.name} | {ms(cold.median_s)} | {ms(reference.median_s)} "
            f"({REFERENCE_ROUTES[reference_route(r.spec.name)]}) | {r.cold.ratio:.2f} "
            f"| {r.target_ratio:.2f}{_verdict(r.cold.ratio <= r.target_ratio)} "
            f"| {cold.median_ms('import_s'):.0f} | {cold.median_ms('first_response_s'):.0f} "
            f"| {ms(statistics.median(cold.cpu_s))} | {max(cold.max_rss_kib) / 1024:.0f} "
            f"| {_statuses(cold.statuses)}; reference {_statuses(reference.statuses)} |"
        )
    if results:
        median = statistics.median(r.cold.ratio for r in results)
        rows.append(
            f"| **median function** | | | {median:.2f} | {MEDIAN_RATIO:.2f}{_verdict(median <= MEDIAN_RATIO)} "
            "| | | | | |"
        )
    return header + "\n".join(rows) + "\n"


def snapstart_table(results: list[FunctionResult]) -> str:
    """With SnapStart: init (in the snapshot) apart from the restore and the first invocation after it."""
    header = (
        "| function | init ms (import + priming) | of which priming ms | after-restore hooks ms "
        "| first invocation ms | warm p50 ms | warm p99 ms | target ms (2 x p50 + 5) | statuses (SnapStart; warm) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    rows = []
    for r in results:
        snap = r.cold.snapstart
        init_ms = statistics.median(i + p for i, p in zip(snap.import_s, snap.prime_s, strict=True)) * 1000
        rows.append(
            f"| {r.spec.name} | {init_ms:.0f} | {snap.median_ms('prime_s'):.1f} | {snap.median_ms('restore_s'):.2f} "
            f"| {r.snapstart_first_ms:.1f} | {percentile(r.warm_ms, 50):.2f} | {percentile(r.warm_ms, 99):.2f} "
            f"| {r.snapstart_target_ms:.1f}{_verdict(r.snapstart_first_ms <= r.snapstart_target_ms)} "
            f"| {_statuses(snap.statuses)}; {_statuses(r.warm_statuses)} |"
        )
    return header + "\n".join(rows) + "\n"


def function_tables(results: list[FunctionResult], baselines: Baselines, unmeasured: list[str]) -> str:
    from invest_dev.bench.prepare import NOTES

    notes = [f"- {r.spec.name}: {NOTES[r.spec.name]}" for r in results if r.spec.name in NOTES]
    notes += [f"- {name}: no sample event in events/, not measured" for name in unmeasured]
    notes += [f"- The {finding}: no slicing of the layer reaches it." for finding in floor_findings(baselines.floors)]
    return (
        "### Cold start without SnapStart, beside the reference app\n\n"
        f"{cold_start_table(results, baselines)}\n"
        "### With SnapStart, and warm\n\n"
        f"{snapstart_table(results)}" + ("\nNotes:\n\n" + "\n".join(notes) + "\n" if notes else "")
    )


def scenario_table(results: list[ScenarioResult]) -> str:
    if not results:
        return "No extra scenarios registered (see `invest_dev/bench/scenarios/`).\n"
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
    sizes: Sizes | None,
    unmeasured: list[str],
    scenario_results: list[ScenarioResult],
    baselines: Baselines,
    n: int,
    load_before: str,
) -> str:
    method = METHOD.replace("--iterations", str(n))
    return (
        "# Benchmarks\n\n"
        "Generated by `make bench` (`devtools/invest_dev/bench/`); regenerate it after changing a function "
        "or the layer.\n\n"
        f"{environment_summary(load_before, load_average())}\n"
        "## Method\n\n"
        f"{method}\n"
        "## Functions\n\n"
        "Targets (ratios of the reference app's cold start in the same runs): the functions that need no "
        f"database (docs, not-found, plans) at most {NO_DATABASE_RATIO}, `GET /v1/health` at most {HEALTH_RATIO}, "
        f"the median function at most {MEDIAN_RATIO}, none above {MAX_RATIO}. Under SnapStart, the first "
        f"invocation after a restore at most {SNAPSTART_P50_FACTOR} x the function's warm p50 + "
        f"{SNAPSTART_SLACK_MS:.0f} ms.\n\n"
        f"{function_tables(results, baselines, unmeasured)}\n"
        "## Package sizes\n\n"
        "Lambda downloads and unpacks a function's code and its layer on a cold start.\n\n"
        f"{size_table(sizes)}\n"
        "## Scenarios\n\n"
        f"{scenario_table(scenario_results)}"
    )
