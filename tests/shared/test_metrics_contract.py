"""The contract between the code's metrics and the operations dashboard and alarms.

Metric names and dimensions are defined once (observability.MetricName, Dimension); the dashboard
and alarms of the monitoring stack (monitoring/template.yaml, nested in template.yaml) are generated
from them and from the template's functions (`invest generate`; tests/project/test_consistency.py keeps the
files current). The `test_the_suite_*` checks read every EMF document the whole test suite made the
code emit, so they run last and only in a whole-suite run (tests/support/metrics_contract.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from invest_dev.monitoring import LAMBDA_NAMESPACE, MAX_ALARM_METRICS, MONITORING_TEMPLATE, STACK_ID, template_dashboard
from invest_dev.template import ROOT, functions, load_template
from investment_system.observability import MetricName, unit_of
from tests.support.metrics_contract import emitted_metrics_file

# (metric name, dimension names) as CloudWatch identifies a metric within the namespace
MetricKey = tuple[str, frozenset[str]]


@cache
def _namespace() -> str:
    return str(load_template()["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"])


@cache
def _service() -> str:
    return str(load_template()["Globals"]["Function"]["Environment"]["Variables"]["SERVICE_NAME"])


def _dashboard_metrics() -> Iterator[tuple[str, MetricKey]]:
    """(namespace, key) of every metric line of the template's dashboard."""
    for widget in template_dashboard()["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            plain = entry[:-1] if isinstance(entry[-1], dict) else entry
            namespace, name, *pairs = plain
            yield namespace, (name, frozenset(pairs[::2]))


def _emitted() -> dict[str, dict[MetricKey, set[str]]]:
    """namespace -> (name, dimension names) -> units, from every EMF document of the session."""
    import json

    found: dict[str, dict[MetricKey, set[str]]] = defaultdict(lambda: defaultdict(set))
    path = emitted_metrics_file()
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        document: dict[str, Any] = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    key = (metric["Name"], frozenset(dimension_set))
                    found[directive["Namespace"]][key].add(metric["Unit"])
    return found


def test_every_metric_name_has_a_graph_on_the_dashboard():
    ours = {name for namespace, (name, _) in _dashboard_metrics() if namespace == _namespace()}
    assert ours == {name.value for name in MetricName}


def test_the_dashboard_shows_aws_lambda_metrics_of_every_function():
    # Given the template's functions, When the dashboard is read, Then errors, throttles, duration and
    # concurrency are graphed for each of them
    lambda_lines: dict[str, set[str]] = defaultdict(set)
    for widget in template_dashboard()["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            if entry[0] == LAMBDA_NAMESPACE:
                lambda_lines[entry[1]].add(entry[3])
    every_function = {spec.name for spec in functions()}
    for metric in ("Errors", "Throttles", "Duration", "ConcurrentExecutions"):
        assert lambda_lines[metric] == every_function, metric


def test_the_monitoring_stack_is_given_the_name_of_every_function():
    # Given the nested monitoring stack of the template
    stack = load_template()["Resources"][STACK_ID]
    assert stack["Type"] == "AWS::Serverless::Application"
    assert stack["Properties"]["Location"] == MONITORING_TEMPLATE.relative_to(ROOT).as_posix()
    passed = stack["Properties"]["Parameters"]
    # Then it receives every parameter it declares, and each function's physical name under its logical ID
    assert set(passed) == set(load_template(MONITORING_TEMPLATE)["Parameters"])
    for spec in functions():
        assert passed[spec.name] == {"Ref": spec.name}


def test_a_throttle_of_any_function_sets_off_an_alarm_that_names_it():
    # Given the throttle alarms of the monitoring stack
    resources = load_template(MONITORING_TEMPLATE)["Resources"]
    watched: list[str] = []
    for name, resource in resources.items():
        if not name.startswith("FunctionThrottlesAlarm"):
            continue
        properties = resource["Properties"]
        *throttles, total = properties["Metrics"]
        # Then each reads at most 10 metrics (CloudWatch's limit for a metric math alarm), one per function,
        # labelled with the function's logical ID
        assert len(throttles) <= MAX_ALARM_METRICS
        for metric in throttles:
            stat = metric["MetricStat"]
            assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]) == (
                LAMBDA_NAMESPACE,
                "Throttles",
                "Sum",
            )
            assert stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": metric["Label"]}}]
            watched.append(metric["Label"])
        # And it alarms when their sum reaches one throttled invocation
        ids = ", ".join(metric["Id"] for metric in throttles)
        assert total == {
            "Id": "throttles",
            "Label": "throttled invocations",
            "Expression": f"SUM(FILL([{ids}], 0))",
            "ReturnData": True,
        }
        assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    # And every function is watched by exactly one of them
    assert sorted(watched) == sorted(spec.name for spec in functions())


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [
        ("WebhookFailuresAlarm", MetricName.WEBHOOKS_REJECTED),
        ("PaymentMismatchAlarm", MetricName.PAYMENTS_MISMATCHED),
    ],
)
def test_a_single_rejected_or_mismatched_payment_event_sets_off_an_alarm(alarm, metric):
    # Given the alarm of the monitoring stack on a payment webhook's count
    properties = load_template(MONITORING_TEMPLATE)["Resources"][alarm]["Properties"]
    # Then it watches that metric of the service, summed over a period, and notifies the alarm topic
    assert (properties["Namespace"], properties["MetricName"], properties["Statistic"]) == (
        _namespace(),
        metric.value,
        "Sum",
    )
    assert properties["Dimensions"] == [{"Name": "service", "Value": _service()}]
    assert properties["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    # And one event in a period is enough
    assert (properties["ComparisonOperator"], properties["Threshold"], properties["EvaluationPeriods"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
        1,
    )


def test_the_suite_made_the_code_emit_only_metrics_the_dashboard_shows():
    # Given every EMF document the test suite made the code emit
    emitted = _emitted()
    assert emitted, f"no EMF document reached {emitted_metrics_file()}"
    # Then they are all in the one namespace, each name is defined in MetricName with its unit
    assert set(emitted) == {_namespace()}
    on_dashboard = {name for _, (name, _) in _dashboard_metrics()}
    for (name, dimensions), units in emitted[_namespace()].items():
        assert name in {metric.value for metric in MetricName}, f"{name} is not defined in MetricName"
        assert units == {unit_of(MetricName(name)).value}, (name, units)
        # And the dashboard shows each of them
        assert name in on_dashboard, f"{name} ({sorted(dimensions)}) is emitted but not on the dashboard"


def test_the_suite_made_the_code_emit_every_metric_the_dashboard_shows():
    # Given every EMF document the test suite made the code emit
    emitted = _emitted().get(_namespace(), {})
    # Then every metric the dashboard graphs (name and dimension set) was emitted somewhere
    never = sorted(
        f"{name} by {sorted(dimensions)}"
        for namespace, (name, dimensions) in set(_dashboard_metrics())
        if namespace == _namespace() and (name, dimensions) not in emitted
    )
    assert not never, f"on the dashboard but never emitted by the suite: {never}"
