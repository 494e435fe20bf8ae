"""`invest serve`'s metrics for Prometheus: scraped from their own address while the gateway serves, parsed
with prometheus_client's parser, every metric of the catalogue there and the requests counted."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from invest_dev.prometheus import EmfCollector, prometheus_name
from investment_system.observability import MetricName
from tests.support.gateway import RunningGateway, invest_serve_command, migrated_api_environment

pytestmark = pytest.mark.slow
HEALTH_REQUESTS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningGateway, str]]:
    """`invest serve` with its Prometheus exporter on a port of its own, after a few requests."""
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    port = _free_port()
    gateway = RunningGateway([*invest_serve_command(), "--metrics-port", str(port)], migrated_api_environment(workdir))
    try:
        for _ in range(HEALTH_REQUESTS):
            assert gateway.get("/v1/health").status_code == 200
        assert gateway.get("/v1/nowhere").status_code == 404
        yield gateway, f"http://127.0.0.1:{port}/metrics"
    finally:
        assert gateway.stop() == 0


def _families(url: str) -> dict[str, Metric]:
    reply = requests.get(url, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(reply.text)}


def test_the_exporter_listens_apart_from_the_api_and_names_every_metric_of_the_catalogue(served):
    gateway, url = served
    # The address is not the API's
    assert not url.startswith(gateway.base_url)
    assert gateway.wait_for_output(gateway.stderr, "metrics (Prometheus) -> ").endswith("/metrics")
    # And every metric MetricName lists is a family there
    families = _families(url)
    missing = [name.value for name in MetricName if prometheus_name(name) not in families]
    assert missing == []


def test_the_requests_served_are_counted_per_function_and_route(served):
    _, url = served
    families = _families(url)
    # Then the health checks are counted as 2xx of their route, the unknown path as a 4xx of the catch-all
    ok = {sample.labels["route"]: sample.value for sample in families[prometheus_name(MetricName.REQUESTS_2XX)].samples}
    assert ok.get("GET /v1/health") == HEALTH_REQUESTS
    not_found = families[prometheus_name(MetricName.REQUESTS_4XX)].samples
    assert [(s.labels["function_name"], s.value) for s in not_found] == [("NotFoundFunction", 1.0)]
    # And their latency is a histogram in seconds, one observation per request
    latency = families[prometheus_name(MetricName.REQUEST_LATENCY)]
    assert latency.type == "histogram"
    counts = {s.labels["route"]: s.value for s in latency.samples if s.name.endswith("_count")}
    assert counts["GET /v1/health"] == HEALTH_REQUESTS


def test_a_metric_rolled_up_by_service_too_is_counted_once():
    # Given an EMF document with a request's dimensions and the roll-up by service, as the functions write
    line = (
        '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"InvestmentSystem","Dimensions":'
        '[["function_name","route","service"],["service"]],"Metrics":[{"Name":"Requests2xx","Unit":"Count"}]}]},'
        '"function_name":"F","route":"GET /x","service":"s","Requests2xx":[1.0, 1.0]}'
    )
    collector = EmfCollector()
    collector.observe_line(line)
    collector.observe_line("a plain log line")
    # Then the family has one series, labelled with the finest dimensions, counting both requests once
    family = next(f for f in collector.collect() if f.name == prometheus_name(MetricName.REQUESTS_2XX))
    assert [(s.labels, s.value) for s in family.samples if s.name.endswith("_total")] == [
        ({"function_name": "F", "route": "GET /x", "service": "s"}, 2.0)
    ]
