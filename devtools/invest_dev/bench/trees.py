"""`python -m invest_dev.bench.trees`: functions' cold starts beside the same functions in other checkouts.

What one change saves: check the repository out again without it (`git worktree add`, then edit), and
this runs each function from this tree and from each checkout in interleaved rounds of the bench's
fresh processes (same database, same events), without and with SnapStart. Cold starts are compared by
the child's CPU time, which a busy machine inflates less than wall time; under SnapStart, by the first
invocation after a restore. docs/cold-start.md#deviations-from-library-apis quotes its figures.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invest_dev.bench.measure import RUNTIME_PACKAGES, ColdStart, Program, cold_start_once, compile_bytecode
from invest_dev.template import ROOT, FunctionSpec, functions

THIS_TREE = "this tree"


def program_in(tree: Path, spec: FunctionSpec, *, snapstart: bool = False) -> Program:
    """The function of `spec` as the checkout at `tree` has it: its handler, directory and layer."""
    return Program(
        spec.name,
        tree / spec.source.relative_to(ROOT),
        spec.module_name,
        spec.handler_attribute,
        tree / spec.code_uri.relative_to(ROOT),
        f"{tree / 'layers' / 'common'}{os.pathsep}{RUNTIME_PACKAGES}",
        snapstart,
    )


def paired_ratio(values: list[float], baseline: list[float]) -> float:
    """The median, over the rounds, of a value over this tree's in the same round."""
    return statistics.median(value / base for value, base in zip(values, baseline, strict=True))


@dataclass(frozen=True)
class Comparison:
    """One checkout's function against this tree's: CPU time of the cold start, and the first invocation
    after a restore, each as the median of the per-round ratios (other / this tree)."""

    tree: str
    cpu_ratio: float
    first_invocation_ratio: float

    @property
    def saving(self) -> float:
        """The share of the other checkout's cold start that this tree saves (negative: this tree costs more)."""
        return 1 - 1 / self.cpu_ratio


def compare(results: dict[str, tuple[ColdStart, ColdStart]]) -> list[Comparison]:
    """Each checkout's (cold, SnapStart) runs against THIS_TREE's, round by round."""
    cold, snapstart = results[THIS_TREE]
    return [
        Comparison(
            name,
            paired_ratio(other_cold.cpu_s, cold.cpu_s),
            paired_ratio(other_snapstart.first_response_s, snapstart.first_response_s),
        )
        for name, (other_cold, other_snapstart) in results.items()
        if name != THIS_TREE
    ]


def _interleaved(programs: list[tuple[str, Program]], next_event: Callable[[], Any], runs: int) -> dict[str, ColdStart]:
    """`runs` rounds of a fresh process per program, the order rotating every round; one unmeasured round first."""
    results = {label: ColdStart() for label, _ in programs}
    with tempfile.TemporaryDirectory(prefix="invest-trees-") as scratch:
        for run in range(runs + 1):
            shift = run % len(programs)
            for label, program in programs[shift:] + programs[:shift]:
                cold_start_once(program, next_event(), {}, Path(scratch), results[label])
    return {label: result.without_first() for label, result in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invest-bench-trees", description=__doc__)
    parser.add_argument("trees", nargs="+", metavar="NAME=PATH", help="a checkout of the repository to compare")
    parser.add_argument("--only", nargs="+", required=True, help="logical IDs of the functions to measure")
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds (median)")
    args = parser.parse_args(argv)
    trees = {
        THIS_TREE: ROOT,
        **{name: Path(path).resolve() for name, _, path in (t.partition("=") for t in args.trees)},
    }
    from invest_dev.bench.environment import bench_environment, on_enterprise_plan, sample_event

    with tempfile.TemporaryDirectory(prefix="invest-trees-db-") as scratch:
        os.environ.update(bench_environment(f"sqlite:///{Path(scratch, 'bench.db')}"))
        os.environ.pop("METRICS_FILE", None)
        compile_bytecode()
        for tree in trees.values():
            for code in (tree / "layers" / "common", tree / "functions"):
                compileall.compile_dir(code, quiet=1, workers=0)
        from invest_dev.bench.prepare import event_source
        from invest_dev.samples import seed_sample_users
        from investment_system.db.migrate import upgrade

        upgrade()
        users = seed_sample_users()
        on_enterprise_plan(users.user_id)
        for spec in [spec for spec in functions() if spec.name in args.only]:
            programs = [
                (f"{name}{suffix}", program_in(tree, spec, snapstart=snapstart))
                for name, tree in trees.items()
                for suffix, snapstart in (("", False), (" SnapStart", True))
            ]
            runs = _interleaved(programs, event_source(spec.name, sample_event(spec, users), users), args.runs)
            results = {name: (runs[name], runs[f"{name} SnapStart"]) for name in trees}
            print(f"{spec.name}: this tree {runs[THIS_TREE].median_ms('cpu_s'):.0f} ms CPU", flush=True)
            for row in compare(results):
                print(
                    f"  {row.tree}: CPU {row.cpu_ratio:.3f} x this tree's (this tree saves {row.saving:.0%}); "
                    f"SnapStart first invocation {row.first_invocation_ratio:.2f} x",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
