"""The bench's comparison of checkouts: each function from another checkout, against this tree's, round by round."""

import pytest

from invest_dev.bench.measure import ColdStart
from invest_dev.bench.trees import THIS_TREE, compare, program_in
from invest_dev.template import ROOT, functions


def test_a_checkouts_function_runs_from_that_checkout(tmp_path):
    # Given another checkout of the repository and a function of the template
    other = tmp_path / "without-a-deviation"
    spec = next(spec for spec in functions() if spec.name == "GetSignalFunction")
    # When its program in that checkout is made, under SnapStart
    program = program_in(other, spec, snapstart=True)
    # Then its handler, directory and layer are that checkout's, not this tree's
    assert program.source == other / "functions/signals/get_signal.py"
    assert program.cwd == other / "functions/signals"
    assert program.pythonpath.split(":")[0] == str(other / "layers/common")
    assert str(ROOT) not in program.pythonpath.split(":")[0]
    assert (program.name, program.handler_attribute, program.snapstart) == ("GetSignalFunction", "handler", True)


def _runs(cpu_ms: list[float], first_ms: list[float]) -> tuple[ColdStart, ColdStart]:
    cold = ColdStart(cpu_s=[ms / 1000 for ms in cpu_ms])
    snapstart = ColdStart(first_response_s=[ms / 1000 for ms in first_ms])
    return cold, snapstart


def test_a_checkout_is_compared_round_by_round_with_this_tree():
    # Given this tree's runs, and a checkout without a deviation 25 % slower in every round but one,
    # whose first invocations after a restore are twice as slow
    results = {
        THIS_TREE: _runs([200, 400, 300], [2, 4, 3]),
        "without": _runs([250, 500, 300], [4, 8, 6]),
    }
    # When the checkout is compared
    (row,) = compare(results)
    # Then the ratios are the medians of the rounds' ratios, and this tree saves a fifth of its cold start
    assert row.tree == "without"
    assert row.cpu_ratio == pytest.approx(1.25)
    assert row.first_invocation_ratio == pytest.approx(2.0)
    assert row.saving == pytest.approx(0.2)
