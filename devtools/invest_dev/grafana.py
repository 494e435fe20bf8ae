"""The operations dashboard for Grafana (Amazon Managed Grafana or any other), generated from the same
definition as the CloudWatch one: `monitoring.dashboard_body`, from template.yaml's functions and
`MetricName`. Each CloudWatch widget becomes a panel at the same place of the same 24-column grid: a
text widget a text panel, a graph a time series whose queries read the same metrics with the same
statistics through a CloudWatch data source. A function's name is a dashboard constant named after it
(its logical ID, what a local run calls it), to be set to the deployed name (docs/operations-monitoring.md);
so is each other stack value a query names (the dead-letter queue's name).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from invest_dev.monitoring import PERIOD_SECONDS, dashboard_of
from invest_dev.template import ROOT, TEMPLATE, functions

GRAFANA_DASHBOARD = ROOT / "monitoring" / "grafana-dashboard.json"
DATASOURCE = {"type": "cloudwatch", "uid": "${datasource}"}


def grafana_dashboard(path: Path = TEMPLATE) -> dict[str, Any]:
    """The Grafana dashboard (JSON model) of the template at `path`."""
    body = dashboard_of(path)
    heading = body["widgets"][0]["properties"]["markdown"].lstrip("# ")
    service = heading.split(":", 1)[0]
    return {
        "title": heading,
        "uid": f"{service}-operations",
        "tags": [service, "generated"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": {"from": "now-3h", "to": "now"},
        "refresh": "1m",
        "editable": True,
        "templating": {"list": [_datasource_variable(), *_function_constants(path), *_stack_constants(body, path)]},
        "panels": [_panel(number, widget) for number, widget in enumerate(body["widgets"], start=1)],
    }


def _datasource_variable() -> dict[str, Any]:
    return {"name": "datasource", "label": "CloudWatch", "type": "datasource", "query": "cloudwatch"}


def _function_constants(path: Path) -> list[dict[str, Any]]:
    return [
        {"name": spec.name, "type": "constant", "query": spec.name, "hide": 2}
        for spec in functions.__wrapped__(path)  # uncached: the file may just have changed
    ]


def _stack_constants(body: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """A constant for each stack parameter other than a function's that a query names (`${Name}`)."""
    named = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", json.dumps(body["widgets"])))
    others = sorted(named - {spec.name for spec in functions.__wrapped__(path)})
    return [{"name": name, "type": "constant", "query": name, "hide": 2} for name in others]


def _panel(number: int, widget: dict[str, Any]) -> dict[str, Any]:
    grid = {"x": widget["x"], "y": widget["y"], "w": widget["width"], "h": widget["height"]}
    properties = widget["properties"]
    if widget["type"] == "text":
        return {
            "id": number,
            "type": "text",
            "title": "",
            "gridPos": grid,
            "options": {"mode": "markdown", "content": properties["markdown"]},
        }
    return {
        "id": number,
        "type": "timeseries",
        "title": properties["title"],
        "datasource": DATASOURCE,
        "gridPos": grid,
        "targets": [
            _target(_ref_id(index), line, properties["stat"]) for index, line in enumerate(properties["metrics"])
        ],
    }


def _ref_id(index: int) -> str:
    """A query's id in its panel, as Grafana names them: A to Z, then AA, AB..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _target(ref_id: str, line: list[Any], stat: str) -> dict[str, Any]:
    """A CloudWatch widget's metric line ([namespace, name, key, value, ..., {options}]) as a query."""
    options: dict[str, Any] = line[-1] if isinstance(line[-1], dict) else {}
    fields = line[:-1] if options else line
    namespace, name, *pairs = fields
    return {
        "refId": ref_id,
        "queryMode": "Metrics",
        "metricQueryType": 0,  # metric search
        "metricEditorMode": 0,  # the builder
        "region": "default",  # the widget's region: the data source's own
        "namespace": namespace,
        "metricName": name,
        "dimensions": {str(pairs[i]): str(pairs[i + 1]) for i in range(0, len(pairs), 2)},
        "matchExact": True,
        "statistic": options.get("stat", stat),
        "period": str(PERIOD_SECONDS),
        "label": options.get("label", ""),
    }


def generated_files(path: Path = TEMPLATE) -> dict[Path, str]:
    """The Grafana dashboard of the template at `path`, where it is kept beside the monitoring stack."""
    target = path.parent / GRAFANA_DASHBOARD.relative_to(ROOT)
    return {target: json.dumps(grafana_dashboard(path), indent=1) + "\n"}
