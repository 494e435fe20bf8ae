"""`invest dashboard`: the monitoring stack's dashboard, drawn from a local run's EMF lines, in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from invest_dev.cli import main as invest
from invest_dev.monitoring import template_dashboard

ROOT = Path(__file__).resolve().parents[2]
SERIES_COLOURS = ((0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C))  # the first three lines' colours
pytestmark = pytest.mark.browser
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

_LOCAL_RUN = """
from investment_system.db.migrate import upgrade
upgrade()
from invest_dev.events import LambdaContextStub, http_event
from invest_dev.template import functions, import_function
specs = {spec.name: spec for spec in functions()}
health = import_function(specs["HealthFunction"]).handler
not_found = import_function(specs["NotFoundFunction"]).handler
for _ in range(25):
    health(http_event("GET", "/v1/health", route_key="GET /v1/health"), LambdaContextStub("HealthFunction"))
    not_found(http_event("GET", "/v1/nowhere", route_key="$default"), LambdaContextStub("NotFoundFunction"))
"""


@pytest.fixture(scope="module")
def local_run_metrics(tmp_path_factory) -> Path:
    """The EMF lines of a local run: two functions, each serving requests in its own process."""
    workdir = tmp_path_factory.mktemp("local-run")
    metrics = workdir / "metrics.jsonl"
    environment = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": f"sqlite:///{workdir / 'local.db'}",
        "METRICS_FILE": str(metrics),
    }
    done = subprocess.run(
        [sys.executable, "-c", _LOCAL_RUN], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return metrics


@pytest.fixture(scope="module")
def page(local_run_metrics, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("dashboard") / "dashboard.html"
    assert invest(["dashboard", "--metrics", str(local_run_metrics), "--output", str(output)]) == 0
    return output


def _chromium(page: Path, tmp_path: Path, *action: str) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is required: run devtools/ensure-services"
    return subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *action, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_the_page_shows_every_widget_of_the_template_dashboard(page, tmp_path):
    # Given the page drawn from a local run
    # When Chromium loads it
    dom = _chromium(page, tmp_path, "--dump-dom").stdout
    # Then it has the template's widgets, in order: every graph title and every section heading
    for widget in template_dashboard()["widgets"]:
        properties = widget["properties"]
        expected = properties.get("title") or properties["markdown"].lstrip("# ")
        assert f">{expected}<".replace("&", "&amp;") in dom, expected


def test_the_endpoint_charts_draw_p50_p95_p99_and_status_classes(page, tmp_path):
    # Given a local run where /v1/health answered 200 and an unknown route 404
    dom = _chromium(page, tmp_path, "--dump-dom").stdout
    # Then the health latency chart has a drawn line for each percentile, with its value in the legend
    health = _widget(dom, "HealthFunction: latency (ms)")
    for percentile in ("p50", "p95", "p99"):
        assert f"<title>GET /v1/health {percentile}</title>" in health
        assert re.search(rf"GET /v1/health {percentile}: \d", health), percentile
    assert len(re.findall(r'<path class="series" d="M[\d.]+,[\d.]+', health)) == 3
    # And the status-class charts count what happened: 25 successes, 25 not-founds
    assert "GET /v1/health 2xx: 25<" in _widget(dom, "HealthFunction: requests")
    assert "$default 4xx: 25<" in _widget(dom, "NotFoundFunction: requests")
    assert "Requests4xx: 25<" in _widget(dom, "All routes: requests by status class")
    # And the cold starts: one per function
    cold_starts = _widget(dom, "Cold starts (incl. SnapStart restores)")
    assert "HealthFunction: 1<" in cold_starts
    assert "NotFoundFunction: 1<" in cold_starts


def test_the_browser_paints_the_chart_lines(local_run_metrics, tmp_path):
    # Given the same run spread over five minutes (so each chart has lines), and a run with no metrics
    spread = tmp_path / "spread.jsonl"
    spread.write_text("".join(_minutes_earlier(line, i % 5) for i, line in enumerate(local_run_metrics.open())))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    painted = {}
    for name, metrics in (("spread", spread), ("empty", empty)):
        page, screenshot = tmp_path / f"{name}.html", tmp_path / f"{name}.png"
        assert invest(["dashboard", "--metrics", str(metrics), "--output", str(page)]) == 0
        # When Chromium renders each page to a picture
        _chromium(page, tmp_path, "--window-size=1400,1200", f"--screenshot={screenshot}")
        pixels = _rgb_pixels(screenshot.read_bytes())
        painted[name] = sum(pixels.count(colour) for colour in SERIES_COLOURS)
    # Then the run's page shows the series colours beyond the legends alone (the empty page): the lines. They
    # come to 1 000-1 250 pixels, depending on the run's latencies; a page without them, to none
    assert painted["spread"] > painted["empty"] + 400, painted


def _minutes_earlier(line: str, minutes: int) -> str:
    document = json.loads(line)
    document["_aws"]["Timestamp"] -= minutes * 60_000
    return json.dumps(document) + "\n"


def _widget(dom: str, title: str) -> str:
    start = dom.index(f"<h4>{title}</h4>")
    return dom[start : dom.index("</section>", start)]


def _rgb_pixels(png: bytes) -> list[tuple[int, int, int]]:
    """The pixels of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    position, chunks, header = 8, [], b""
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        data = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            chunks.append(data)
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8, depth
    assert colour_type in (2, 6), colour_type
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(b"".join(chunks))
    previous = bytearray(stride)
    pixels = []
    for row in range(height):
        kind = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - up_left
                nearest = min(
                    (abs(estimate - left), 0, left), (abs(estimate - up), 1, up), (abs(estimate - up_left), 2, up_left)
                )
                line[i] = (line[i] + nearest[2]) & 0xFF
        pixels += [tuple(line[i : i + 3]) for i in range(0, stride, channels)]
        previous = line
    return pixels  # type: ignore[return-value]
