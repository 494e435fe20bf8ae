"""`invest serve`'s metrics for Prometheus: the EMF documents its functions write, added up and served in
Prometheus' text format (prometheus_client) at an address of their own, apart from the API's.

Every metric `MetricName` lists is declared, sampled once a function has emitted it: a count as a counter
(`invest_<name>_total`), a latency as a histogram in seconds (`invest_<name>_seconds`), the open stream
connections as a gauge. Labels are the EMF dimensions of the document's finest dimension set (function,
route, service): Prometheus sums over them itself, so the roll-up by service is not counted twice.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import INF

from invest_dev.local_dashboard import Datapoint, read_emf
from investment_system.observability import MetricName, unit_of

PREFIX = "invest"
GAUGES = frozenset({MetricName.STREAM_CONNECTIONS_OPEN})
# Seconds: from a fast request to a slow analytics query over many rows.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, INF)
_Labels = tuple[tuple[str, str], ...]


def prometheus_name(metric: MetricName) -> str:
    """The family name a catalogue metric has here: `RequestLatency` -> `invest_request_latency_seconds`."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", metric.value).lower()
    return f"{PREFIX}_{snake}_seconds" if _is_latency(metric) else f"{PREFIX}_{snake}"


def _is_latency(metric: MetricName) -> bool:
    return unit_of(metric).value == "Milliseconds"


class EmfCollector(Collector):
    """The EMF lines seen so far, as Prometheus metric families."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[MetricName, dict[_Labels, float]] = defaultdict(dict)
        self._observations: dict[MetricName, dict[_Labels, list[float]]] = defaultdict(dict)

    def observe_line(self, line: str) -> None:
        """Add one line a function wrote (anything but an EMF document is passed over)."""
        finest: dict[str, Datapoint] = {}
        for point in read_emf([line]):
            kept = finest.get(point.name)
            if kept is None or len(point.dimensions) > len(kept.dimensions):
                finest[point.name] = point
        with self._lock:
            for point in finest.values():
                self._add(point)

    def _add(self, point: Datapoint) -> None:
        try:
            metric = MetricName(point.name)
        except ValueError:  # not one of ours (no such metric is emitted; kept out if one ever is)
            return
        labels: _Labels = tuple(sorted(point.dimensions))
        if _is_latency(metric):
            self._observations[metric].setdefault(labels, []).extend(value / 1000 for value in point.values)
        elif metric in GAUGES:
            self._totals[metric][labels] = point.values[-1]
        else:
            self._totals[metric][labels] = self._totals[metric].get(labels, 0.0) + sum(point.values)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            for metric in MetricName:
                yield self._family(metric)

    def _family(self, metric: MetricName) -> Metric:
        name, documentation = prometheus_name(metric), f"{metric.value} (EMF, {unit_of(metric).value})"
        if _is_latency(metric):
            names = _label_names(self._observations[metric])
            histogram = HistogramMetricFamily(name, documentation, labels=names)
            for labels, values in sorted(self._observations[metric].items()):
                buckets = [(_bound(bound), float(sum(value <= bound for value in values))) for bound in LATENCY_BUCKETS]
                histogram.add_metric(_label_values(names, labels), buckets, sum(values))
            return histogram
        names = _label_names(self._totals[metric])
        family: GaugeMetricFamily | CounterMetricFamily = (
            GaugeMetricFamily(name, documentation, labels=names)
            if metric in GAUGES
            else CounterMetricFamily(name, documentation, labels=names)
        )
        for labels, total in sorted(self._totals[metric].items()):
            family.add_metric(_label_values(names, labels), total)
        return family


def _label_names(series: dict[_Labels, Any]) -> list[str]:
    # Every dimension any of the metric's documents had (a scheduled function's have no route).
    return sorted({key for labels in series for key, _ in labels})


def _label_values(names: list[str], labels: _Labels) -> list[str]:
    given = dict(labels)
    return [given.get(name, "") for name in names]


def _bound(bound: float) -> str:
    return "+Inf" if bound == INF else str(bound)


def start_exporter(host: str, port: int) -> tuple[EmfCollector, Any]:
    """Serve a new collector's metrics at http://host:port/metrics; the collector and the HTTP server."""
    registry = CollectorRegistry(auto_describe=False)
    collector = EmfCollector()
    registry.register(collector)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return collector, server
