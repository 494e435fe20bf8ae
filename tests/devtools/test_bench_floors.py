"""The benchmark's floors: the least a function can load, measured beside the targets they bound."""

import json
from pathlib import Path

import pytest

from invest_dev.bench.measure import ColdStart
from invest_dev.bench.report import FloorResult, floor_findings
from invest_dev.events import LambdaContextStub

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("handler_name", ["handler", "database_handler"])
def test_each_floor_answers_the_health_event_it_is_timed_with(handler_name):
    # Given the floor app and GET /v1/health's sample event
    from invest_dev.bench import floor_app

    event = json.loads((ROOT / "events" / "HealthFunction.json").read_text(encoding="utf-8"))
    # When a floor handler answers it
    answer = getattr(floor_app, handler_name)(event, LambdaContextStub(function_name="Floor"))
    # Then it is a 200, as the health function's answer is (a floor that failed would time an error path)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"status": "healthy"}


def _floor(floor_ms: list[float], reference_ms: list[float], bounded_target: float) -> FloorResult:
    return FloorResult(
        "floor: Powertools + pydantic",
        "GetSignalFunction",
        bounded_target,
        ColdStart(total_s=[ms / 1000 for ms in floor_ms]),
        ColdStart(total_s=[ms / 1000 for ms in reference_ms]),
    )


def test_a_floor_at_or_above_its_target_is_reported_as_out_of_reach():
    # Given a floor at 0.27x the reference in the same runs, and one at 0.20x
    over = _floor([108, 110, 112], [400, 400, 400], bounded_target=0.25)
    under = _floor([80, 80, 80], [400, 400, 400], bounded_target=0.25)
    # When the findings are drawn
    findings = floor_findings([over, under])
    # Then only the first is, with its ratio and the target
    assert findings == ["floor: Powertools + pydantic starts in 0.27x the reference, the target it bounds is 0.25x"]
