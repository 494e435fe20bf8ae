"""The Grafana dashboard: the CloudWatch dashboard's panels, generated from the same catalogue."""

import json
import re

from invest_dev.grafana import GRAFANA_DASHBOARD, grafana_dashboard
from invest_dev.monitoring import dashboard_of
from invest_dev.template import functions
from investment_system.observability import MetricName


def _queries(panel):
    return [
        (t["namespace"], t["metricName"], t["dimensions"], t["statistic"], t["label"]) for t in panel.get("targets", [])
    ]


def _widget_lines(widget):
    lines = []
    for line in widget["properties"]["metrics"]:
        options = line[-1] if isinstance(line[-1], dict) else {}
        namespace, name, *pairs = line[:-1] if options else line
        dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
        lines.append(
            (namespace, name, dimensions, options.get("stat", widget["properties"]["stat"]), options.get("label", ""))
        )
    return lines


def test_every_cloudwatch_widget_is_a_grafana_panel_in_the_same_place_reading_the_same_metrics():
    # Given the CloudWatch dashboard and the Grafana one generated from the same template
    widgets = dashboard_of()["widgets"]
    panels = grafana_dashboard()["panels"]
    # Then they have as many panels, one for one, at the same place of the same grid
    assert len(panels) == len(widgets)
    for widget, panel in zip(widgets, panels, strict=True):
        assert panel["gridPos"] == {"x": widget["x"], "y": widget["y"], "w": widget["width"], "h": widget["height"]}
        if widget["type"] == "text":
            assert (panel["type"], panel["options"]["content"]) == ("text", widget["properties"]["markdown"])
        else:
            # And each graph reads the same metrics, with the same dimensions, statistics and labels
            assert (panel["type"], panel["title"]) == ("timeseries", widget["properties"]["title"])
            assert _queries(panel) == _widget_lines(widget)
            assert panel["datasource"]["type"] == "cloudwatch"


def test_every_metric_of_the_catalogue_has_a_panel():
    queried = {query[1] for panel in grafana_dashboard()["panels"] for query in _queries(panel)}
    missing = sorted(name.value for name in MetricName if name.value not in queried)
    assert missing == []


def test_every_function_a_query_names_is_a_variable_of_the_dashboard():
    dashboard = grafana_dashboard()
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    # Every ${Name} a query or the data source uses is a variable, and every function of the template is one
    text = json.dumps(dashboard["panels"])
    assert set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text)) <= variables
    assert {spec.name for spec in functions()} <= variables
    assert "datasource" in variables


def test_the_committed_dashboard_is_the_generated_one():
    assert json.loads(GRAFANA_DASHBOARD.read_text(encoding="utf-8")) == grafana_dashboard()
