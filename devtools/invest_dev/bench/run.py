"""`python -m invest_dev.bench`: measure the functions, run the scenarios, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invest_dev.bench.environment import (
    NEEDS_AWS,
    bench_environment,
    has_sample_event,
    on_enterprise_plan,
    sample_event,
    stdout_to_devnull,
)
from invest_dev.bench.measure import (
    Program,
    baseline,
    compile_bytecode,
    import_profile,
    paired_cold_start,
    paired_floor_cold_start,
    percentile,
    warm_latencies,
)
from invest_dev.bench.report import (
    DOCS,
    FLOORS,
    HEALTH_FUNCTION,
    Baselines,
    FloorResult,
    FunctionResult,
    floor_findings,
    function_tables,
    load_average,
    missed_targets,
    ms,
    reference_route,
    render_report,
    scenario_table,
)
from invest_dev.bench.round_trips import DEFAULT_DELAY_MS, DEFAULT_ITERATIONS, measured_section
from invest_dev.bench.scenarios import SCENARIOS, BenchContext, ScenarioResult, load_scenarios
from invest_dev.bench.sizes import build_sizes, size_table
from invest_dev.template import ROOT, functions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invest-bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per cold start (median; >= 5)")
    parser.add_argument("--iterations", type=int, default=1000, help="warm invocations per function (>= 1000)")
    parser.add_argument("--only", nargs="*", default=None, help="logical IDs of the functions to measure")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--no-scenarios", action="store_true", help="skip the extra scenarios")
    parser.add_argument(
        "--no-postgres", action="store_true", help="skip the warm run on PostgreSQL behind a network delay"
    )
    parser.add_argument("--delay-ms", type=float, default=DEFAULT_DELAY_MS, help="that run's added round trip")
    parser.add_argument(
        "--no-sam", action="store_true", help="skip the first invocations in the runtime containers (sam local)"
    )
    parser.add_argument(
        "--importtime", metavar="FUNCTION", help="print the slowest imports of one function (or ReferenceApp)"
    )
    args = parser.parse_args(argv)

    load_before = load_average()
    if os.getloadavg()[0] > (os.cpu_count() or 1) / 2:
        print(f"warning: the machine is busy (load {load_before}); the numbers will be inflated", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="invest-bench-") as scratch:
        # Before any investment_system import: settings are read once per process.
        os.environ.update(bench_environment(f"sqlite:///{Path(scratch, 'bench.db')}"))
        os.environ.pop("METRICS_FILE", None)
        specs = [spec for spec in functions() if args.only is None or spec.name in args.only]
        compile_bytecode()
        if args.importtime:
            program = (
                Program.reference()
                if args.importtime == "ReferenceApp"
                else Program.function(next(s for s in functions() if s.name == args.importtime))
            )
            print(import_profile(program, os.environ))
            return 0

        from invest_dev.bench.prepare import event_source
        from invest_dev.samples import seed_sample_users
        from investment_system.db.migrate import upgrade

        upgrade()
        users = seed_sample_users()
        on_enterprise_plan(users.user_id)
        ctx = BenchContext(users=users, iterations=args.iterations, runs=args.runs)
        python_pass = baseline(args.runs)
        print(f"python -S -c pass: {ms(python_pass.median_s)} ms (median of {args.runs})", flush=True)

        def reference_events(function_name: str) -> Callable[[], Any]:
            # Made when needed, with a token minted now: one made at the start would expire (its lifetime
            # is 15 minutes) before a slow machine's run ends, and the reference would answer 401.
            spec = next(spec for spec in functions() if spec.name == function_name)
            return event_source(spec.name, sample_event(spec, ctx.users), ctx.users)

        floors = []
        # The floors answer GET /v1/health's sample event (their one route).
        health = next(spec for spec in functions() if spec.name == HEALTH_FUNCTION)
        floor_event = event_source(health.name, sample_event(health, ctx.users), ctx.users)
        for handler_attribute, label, reference_function, bounded_target in FLOORS:
            floor, reference = paired_floor_cold_start(
                handler_attribute, floor_event, reference_events(reference_function), args.runs
            )
            floors.append(FloorResult(label, reference_function, bounded_target, floor, reference))
            print(f"{label}: cold {ms(floor.median_s)} ms ({floors[-1].ratio:.2f}x the reference's)", flush=True)
        baselines = Baselines(python_pass, floors)
        results = []
        unmeasured = [spec.name for spec in specs if not has_sample_event(spec)]
        for spec in specs:
            if spec.name in unmeasured:
                reason = NEEDS_AWS.get(spec.name, "no sample event in events/")
                print(f"{spec.name}: not measured, {reason}", file=sys.stderr)
                continue
            next_event = event_source(spec.name, sample_event(spec, ctx.users), ctx.users)
            reference_event = reference_events(reference_route(spec.name))
            cold = paired_cold_start(spec, next_event, reference_event, args.runs)
            with stdout_to_devnull():
                warm_ms, warm_statuses = warm_latencies(ctx, spec, next_event)
            results.append(FunctionResult(spec, cold, warm_ms, warm_statuses))
            print(
                f"{spec.name}: cold {ms(cold.function.median_s)} ms ({cold.ratio:.2f}x the reference's "
                f"{ms(cold.reference.median_s)} ms); SnapStart first invocation "
                f"{cold.snapstart.median_ms('first_response_s'):.1f} ms; warm p50 {percentile(warm_ms, 50):.2f} ms",
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

    sizes = build_sizes([spec.name for spec in specs])
    report = render_report(results, sizes, unmeasured, scenario_results, baselines, args.iterations, load_before)
    if not args.no_postgres:
        round_trips = measured_section(args.delay_ms, DEFAULT_ITERATIONS)
        print(round_trips)
        report += "\n" + round_trips
    if not args.no_sam:
        from invest_dev.sam.reports import first_invocations, report_section

        sam_section = report_section(first_invocations())
        print("\n" + sam_section)
        report += "\n" + sam_section
    print("\n" + function_tables(results, baselines, unmeasured) + "\n" + size_table(sizes))
    print(scenario_table(scenario_results))
    if not args.no_write:
        DOCS.write_text(report, encoding="utf-8")
        print(f"wrote {DOCS.relative_to(ROOT)}")
    for missed in missed_targets(results):
        print(f"target missed: {missed}", file=sys.stderr)
    for finding in floor_findings(baselines.floors):
        print(f"out of reach: the {finding}", file=sys.stderr)
    return 1 if unmeasured else 0
