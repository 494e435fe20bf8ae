"""The operations dashboard of monitoring/template.yaml, drawn from the EMF lines of a local run.

The widgets are read from the monitoring stack's dashboard body (not a copy): each metric line is matched
against the EMF documents the way CloudWatch matches a metric (namespace, name and the exact set of
dimensions), bucketed by the widget's period and aggregated by its statistic (Sum, Average, Minimum,
Maximum, SampleCount or a percentile such as p99). The page is self-contained HTML with inline SVG
charts: no script, no CDN. AWS/Lambda's own metrics exist only in CloudWatch; their widgets say so.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invest_dev.monitoring import LAMBDA_NAMESPACE, MONITORING_TEMPLATE, template_dashboard

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
CHART_WIDTH, CHART_HEIGHT, MARGIN_LEFT, MARGIN_BOTTOM = 560, 200, 56, 22


@dataclass(frozen=True)
class Datapoint:
    """One metric's values from one EMF document, for one of its dimension sets."""

    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    timestamp_ms: int
    values: tuple[float, ...]


def read_emf(lines: Iterable[str]) -> Iterator[Datapoint]:
    """The datapoints of EMF documents; other lines (plain logs) are passed over."""
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        timestamp = int(document["_aws"]["Timestamp"])
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((key, str(document[key])) for key in dimension_set)
                for metric in directive["Metrics"]:
                    raw = document.get(metric["Name"])
                    if raw is None:
                        continue
                    values = tuple(float(v) for v in (raw if isinstance(raw, list) else [raw]))
                    yield Datapoint(directive["Namespace"], metric["Name"], dimensions, timestamp, values)


def aggregate(values: list[float], stat: str) -> float:
    """CloudWatch's statistics over one period's values; pNN by nearest rank."""
    if stat == "Sum":
        return sum(values)
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    if stat == "SampleCount":
        return float(len(values))
    if stat.startswith("p"):
        ordered = sorted(values)
        rank = math.ceil(float(stat[1:]) / 100 * len(ordered))
        return ordered[max(rank, 1) - 1]
    raise ValueError(f"unsupported statistic {stat!r}")


@dataclass(frozen=True)
class Series:
    label: str
    stat: str
    points: tuple[tuple[int, float], ...]  # (period start in ms, value)


def _parse_metric(entry: list[Any]) -> tuple[str, str, frozenset[tuple[str, str]], dict[str, Any]]:
    options = entry[-1] if isinstance(entry[-1], dict) else {}
    plain = entry[:-1] if options else entry
    namespace, name, *pairs = plain
    return namespace, name, frozenset(zip(pairs[::2], pairs[1::2], strict=True)), options


def widget_series(widget: dict[str, Any], datapoints: list[Datapoint]) -> list[Series]:
    properties = widget["properties"]
    period_ms = int(properties.get("period", 60)) * 1000
    series = []
    for entry in properties["metrics"]:
        namespace, name, dimensions, options = _parse_metric(entry)
        stat = str(options.get("stat", properties.get("stat", "Average")))
        buckets: dict[int, list[float]] = defaultdict(list)
        for point in datapoints:
            if point.namespace == namespace and point.name == name and point.dimensions == dimensions:
                buckets[point.timestamp_ms // period_ms * period_ms].extend(point.values)
        points = tuple((start, aggregate(values, stat)) for start, values in sorted(buckets.items()))
        series.append(Series(str(options.get("label") or f"{name} {stat}"), stat, points))
    return series


def _svg(series: list[Series]) -> str:
    points = [point for line in series for point in line.points]
    if not points:
        return '<p class="empty">No datapoints in this run.</p>'
    t0, t1 = min(t for t, _ in points), max(t for t, _ in points)
    top = max(v for _, v in points) or 1.0
    width, height = CHART_WIDTH - MARGIN_LEFT, CHART_HEIGHT - MARGIN_BOTTOM

    def x(t: int) -> float:
        return MARGIN_LEFT + (width * (t - t0) / (t1 - t0) if t1 > t0 else width / 2)

    def y(v: float) -> float:
        return height - height * v / top + 4

    parts = [f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img">']
    for fraction in (0, 0.5, 1):
        value = top * fraction
        parts.append(
            f'<line class="grid" x1="{MARGIN_LEFT}" x2="{CHART_WIDTH}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
            f'<text class="axis" x="{MARGIN_LEFT - 4}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.4g}</text>'
        )
    for t, anchor in ((t0, "start"), (t1, "end")) if t1 > t0 else ((t0, "middle"),):
        label = time.strftime("%H:%M", time.localtime(t / 1000))
        parts.append(f'<text class="axis" x="{x(t):.1f}" y="{CHART_HEIGHT - 4}" text-anchor="{anchor}">{label}</text>')
    for index, line in enumerate(series):
        if not line.points:
            continue
        color = COLORS[index % len(COLORS)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(line.points))
        title = html.escape(line.label)
        parts.append(f'<path class="series" d="{path}" stroke="{color}"><title>{title}</title></path>')
        parts += [
            f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"><title>{title}: {v:.4g}</title></circle>'
            for t, v in line.points
        ]
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: list[Series]) -> str:
    items = []
    for index, line in enumerate(series):
        last = f"{line.points[-1][1]:.4g}" if line.points else "no data"
        color = COLORS[index % len(COLORS)]
        items.append(
            f'<li><span class="swatch" style="background:{color}"></span>{html.escape(line.label)}: {last}</li>'
        )
    return f'<ul class="legend">{"".join(items)}</ul>'


def _widget_html(widget: dict[str, Any], datapoints: list[Datapoint]) -> str:
    span = f'style="grid-column: span {widget["width"]}"'
    properties = widget["properties"]
    if widget["type"] == "text":
        heading = str(properties["markdown"])
        level = min(len(heading) - len(heading.lstrip("#")), 3) or 3
        return f'<h{level} class="section" {span}>{html.escape(heading.lstrip("# "))}</h{level}>'
    title = html.escape(str(properties["title"]))
    namespaces = {_parse_metric(entry)[0] for entry in properties["metrics"]}
    if namespaces == {LAMBDA_NAMESPACE}:
        body = '<p class="empty">Published by AWS Lambda in CloudWatch; not measured locally.</p>'
        return f'<section class="widget" {span}><h4>{title}</h4>{body}</section>'
    series = widget_series(widget, datapoints)
    return f'<section class="widget" {span}><h4>{title}</h4>{_svg(series)}{_legend(series)}</section>'


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1rem; background: #fafafa; color: #222; }
main { display: grid; grid-template-columns: repeat(24, 1fr); gap: 0.75rem; }
.section { margin: 0.75rem 0 0; }
.widget { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 0.5rem; min-width: 0; }
.widget h4 { margin: 0 0 0.25rem; font-size: 0.9rem; }
.chart { width: 100%; height: auto; }
.series { fill: none; stroke-width: 1.5; }
.grid { stroke: #eee; }
.axis { font-size: 10px; fill: #666; }
.legend { list-style: none; padding: 0; margin: 0.25rem 0 0; font-size: 0.75rem; columns: 2; }
.swatch { display: inline-block; width: 0.7rem; height: 0.7rem; margin-right: 0.3rem; vertical-align: middle; }
.empty { color: #888; font-size: 0.8rem; }
"""


def render(datapoints: list[Datapoint], dashboard: dict[str, Any], source: str) -> str:
    widgets = "\n".join(_widget_html(widget, datapoints) for widget in dashboard["widgets"])
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Operations dashboard (local run)</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<p>The dashboard of monitoring/template.yaml, from {len(datapoints)} datapoints in {html.escape(source)}.</p>"
        f"<main>{widgets}</main></body></html>\n"
    )


def write_local_dashboard(
    metrics_file: Path, output: Path, template: Path = MONITORING_TEMPLATE, *, source: str | None = None
) -> Path:
    """The page for `metrics_file`; `source` names the metrics on it (default: the file's path)."""
    lines = metrics_file.read_text(encoding="utf-8").splitlines() if metrics_file.exists() else []
    page = render(list(read_emf(lines)), template_dashboard(template), source or str(metrics_file))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
