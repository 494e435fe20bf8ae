"""`invest serve`: the HTTP server in front of the template's functions, as API Gateway's HTTP API.

A request is matched to a route (`routing`), becomes a payload-2.0 event (`request`) and is invoked
in one of the function's containers (`pool`); the function's answer becomes the HTTP response
(`responses`). Access log lines go to stderr.

That public port serves only what API Gateway would: the template's routes and the WebSocket API.
The AWS APIs the functions call (`aws`) have a listener of their own on 127.0.0.1, on a port the OS
picks, which only the containers are told about.
"""

from __future__ import annotations

import faulthandler
import json
import os
import queue
import signal
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, cast
from urllib.parse import urlsplit

from invest_dev.gateway.aws import (
    DELIVERY_FUNCTION,
    STREAM_PATH,
    AwsApis,
    invocation_deadline,
    local_aws_environment,
    local_credentials,
)
from invest_dev.gateway.containers import WorkerOutput, local_flags_file
from invest_dev.gateway.pool import MAX_CONTAINERS_PER_FUNCTION, FunctionPool
from invest_dev.gateway.request import HttpRequest, event_headers, joined_headers
from invest_dev.gateway.responses import GatewayError, HttpResponse, http_response
from invest_dev.gateway.routing import RouteTable
from invest_dev.gateway.websocket import IDLE_TIMEOUT_SECONDS, StreamGateway, handshake_bytes
from invest_dev.template import TEMPLATE, functions, http_functions, stream_functions

INTEGRATION_TIMEOUT_SECONDS = 30.0  # API Gateway HTTP API waits at most this long for a function
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
DEFAULT_METRICS_FILE = ".local/metrics.jsonl"


class Gateway:
    """Routes HTTP requests to the template's functions and turns their answers into HTTP."""

    def __init__(
        self,
        template: Path,
        output: WorkerOutput,
        max_containers: int = MAX_CONTAINERS_PER_FUNCTION,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    ) -> None:
        specs = http_functions(template)
        self.template = template
        self.routes = RouteTable(specs)
        # Beside the HTTP functions: the WebSocket routes' functions, and the delivery function they invoke.
        stream_specs = stream_functions(template)
        invoked = [spec for spec in functions(template) if spec.name == DELIVERY_FUNCTION]
        specs = (*specs, *stream_specs, *invoked)
        # The rate-limit buckets every container shares (RATE_LIMIT_BACKEND=memory), for this run only.
        self._scratch = tempfile.TemporaryDirectory(prefix="invest-serve-")
        self.rate_limits = Path(self._scratch.name) / "rate-limits.sqlite"
        self.pools = {
            spec.name: FunctionPool(spec, template, output, max_containers, self.rate_limits) for spec in specs
        }
        self.stream = StreamGateway(
            {route: spec.name for spec in stream_specs for route in spec.stream_routes}, self.invoke, idle_timeout
        )
        timeouts = {spec.name: spec.timeout_seconds for spec in specs}
        self.aws = AwsApis(self.stream, self.invoke, timeouts, local_credentials())

    def aws_apis_at(self, base_url: str) -> None:
        """The AWS APIs' listener, for the containers' boto3 clients (invest_dev.gateway.aws)."""
        for pool in self.pools.values():
            pool.add_environment(local_aws_environment(base_url, self.aws.credentials))

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """The function's result for an event of the WebSocket API or of Lambda's Invoke."""
        pool = self.pools[function]
        return pool.invoke(event, invocation_deadline(pool.spec.timeout_seconds))

    def start_warming(self) -> None:
        """Start one container per function in the background, as many at once as there are CPUs.

        Importing a function costs about a CPU-second; all of them at once would starve each other.
        Requests are answered meanwhile: one for a function not yet warm starts its container.
        """
        pending: queue.SimpleQueue[FunctionPool] = queue.SimpleQueue()
        for pool in self.pools.values():
            pending.put(pool)

        def warm_next() -> None:
            while True:
                try:
                    pending.get_nowait().warm_up()
                except queue.Empty:
                    return

        for _ in range(min(os.cpu_count() or 2, len(self.pools))):
            threading.Thread(target=warm_next, name="warm-up", daemon=True).start()

    def close(self) -> None:
        self.stream.close_all()
        threads = [threading.Thread(target=pool.close, daemon=True) for pool in self.pools.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._scratch.cleanup()

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        request.integration_deadline = request.received + INTEGRATION_TIMEOUT_SECONDS
        resolved = self.routes.resolve(request.method, request.path)
        if resolved is None:
            return HttpResponse.from_gateway_error(GatewayError(404, "Not Found"))
        target, path_parameters = resolved
        request.route_key, request.function = target.route_key, target.function.name
        event = request.event(target.route_key, path_parameters)
        request.request_id = event["requestContext"]["requestId"]
        integration_started = time.monotonic()
        try:
            response = http_response(self.pools[target.function.name].invoke(event, request.integration_deadline))
        except GatewayError as error:
            response = HttpResponse.from_gateway_error(error)
        request.integration_latency = time.monotonic() - integration_started
        return response


class _BadRequest(Exception):
    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # in-flight requests must not hold up shutdown
    request_queue_size = 128  # bursts of parallel clients wait in the backlog, not in SYN retries

    def __init__(self, address: tuple[str, int], gateway: Gateway, handler: type[_RequestHandler]) -> None:
        self.gateway = gateway
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 as both listeners speak it; `_headers` and `_answer` say what a request gets."""

    protocol_version = "HTTP/1.1"  # keep-alive, like API Gateway
    server_version = "invest-local-gateway"
    timeout = 120  # idle keep-alive connections are dropped after this

    def _headers(self, server: _Server) -> dict[str, str]:
        raise NotImplementedError

    def _answer(self, gateway: Gateway, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def _dispatch(self) -> None:
        server = cast(_Server, self.server)
        target = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=target.path or "/",
            query=target.query,
            headers=self._headers(server),
            body=b"",
            source_ip=self.client_address[0],
        )
        try:
            request.body = self._read_body()
            response = self._answer(server.gateway, request)
        except _BadRequest as bad:
            self.close_connection = True  # the body may be unread: the connection is out of step
            response = HttpResponse.from_gateway_error(bad.error)
        response.headers.append(("apigw-requestid", request.request_id))
        self._write(response)
        sys.stderr.write(request.access_log(response.status) + "\n")
        sys.stderr.flush()

    def __getattr__(self, name: str) -> Any:
        # http.server looks a request's method up as do_<METHOD>; every method, TRACE or PROPFIND
        # included, goes through the route table (an ANY or $default route may take it).
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadRequest(GatewayError(400, "Bad Request")) from None
        if length < 0:
            raise _BadRequest(GatewayError(400, "Bad Request"))
        if length > MAX_BODY_BYTES:
            raise _BadRequest(GatewayError(413, "Request Entity Too Large"))
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                size = int(self.rfile.readline(1024).split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(GatewayError(400, "Bad Request")) from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest(GatewayError(413, "Request Entity Too Large"))
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, response: HttpResponse) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Replaced by the JSON access log line of `_dispatch`."""


class _ApiRequestHandler(_RequestHandler):
    """The public port: the template's routes and the WebSocket API, as API Gateway serves them. The
    event's sourceIp is the TCP peer's, whatever X-Forwarded-For says."""

    def _dispatch(self) -> None:
        if urlsplit(self.path).path == STREAM_PATH and self.headers.get("Upgrade", "").lower() == "websocket":
            self._serve_websocket(cast(_Server, self.server))
        else:
            super()._dispatch()

    def _headers(self, server: _Server) -> dict[str, str]:
        return event_headers(self.headers.items(), self.client_address[0], server.server_port)

    def _answer(self, gateway: Gateway, request: HttpRequest) -> HttpResponse:
        return gateway.dispatch(request)

    def _serve_websocket(self, server: _Server) -> None:
        """Hand the socket to the WebSocket API (invest_dev.gateway.websocket) for the connection's life."""
        self.close_connection = True
        received = time.monotonic()
        raw = handshake_bytes(self.requestline, self.headers.items())
        status = server.gateway.stream.serve(self.connection, raw, self.client_address[0])
        latency_ms = round((time.monotonic() - received) * 1000, 1)
        entry = {"ip": self.client_address[0], "path": STREAM_PATH, "status": status, "connectionMs": latency_ms}
        sys.stderr.write(json.dumps(entry) + "\n")
        sys.stderr.flush()


class _AwsRequestHandler(_RequestHandler):
    """The AWS APIs' listener (invest_dev.gateway.aws): the headers as sent, for their signature."""

    def _headers(self, server: _Server) -> dict[str, str]:
        return joined_headers(self.headers.items())

    def _answer(self, gateway: Gateway, request: HttpRequest) -> HttpResponse:
        request.route_key = "aws"
        return gateway.aws.answer(request)


class _Stop(BaseException):
    """SIGINT or SIGTERM: leave serve_forever and shut down cleanly. Not an Exception, as KeyboardInterrupt
    is not: raised while the main thread starts a request's thread, socketserver would log it and serve on."""


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def metrics_file() -> Path:
    """Where EMF lines go: METRICS_FILE (settings observability.metrics_file), else .local/metrics.jsonl."""
    from investment_system.settings import SettingsError, get_settings

    try:
        configured = get_settings().observability.metrics_file
    except SettingsError as error:
        raise SystemExit(f"invest serve: {error}") from None
    return Path(configured or DEFAULT_METRICS_FILE)


def _metrics_exporter(host: str, port: int) -> tuple[Any, Any]:
    """The Prometheus exporter's collector and server on `port` (0: none). A port in use costs the
    exporter, not the API: the gateway serves without it, and says so."""
    if not port:
        return None, None
    from invest_dev.prometheus import start_exporter

    try:
        return start_exporter(host, port)
    except OSError as error:
        print(f"invest serve: no Prometheus metrics, cannot listen on {host}:{port}: {error}", file=sys.stderr)
        return None, None


def serve(
    host: str = "127.0.0.1",
    port: int = 3000,
    *,
    template: Path = TEMPLATE,
    max_containers: int = MAX_CONTAINERS_PER_FUNCTION,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    metrics_port: int = 0,
) -> None:
    """Serve the template's functions over HTTP until SIGINT (Ctrl-C) or SIGTERM; with a `metrics_port`,
    their metrics for Prometheus at http://host:metrics_port/metrics too (invest_dev/prometheus.py)."""
    collector, exporter = _metrics_exporter(host, metrics_port)
    output = WorkerOutput(metrics_file(), sys.stdout, collector.observe_line if collector else None)
    flags_file = local_flags_file()
    gateway = Gateway(template, output, max_containers, idle_timeout)
    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: every thread's stack, on stderr
    server: _Server | None = None
    aws_server: _Server | None = None
    aws_thread: threading.Thread | None = None
    try:
        try:
            server = _Server((host, port), gateway, _ApiRequestHandler)
        except OSError as error:
            raise SystemExit(f"invest serve: cannot listen on {host}:{port}: {error}") from None
        aws_server = _Server(("127.0.0.1", 0), gateway, _AwsRequestHandler)
        aws_thread = threading.Thread(target=aws_server.serve_forever, name="aws-apis", daemon=True)
        aws_thread.start()
        aws_url = f"http://127.0.0.1:{aws_server.server_address[1]}"
        gateway.aws_apis_at(aws_url)
        gateway.start_warming()
        _print_banner(gateway, server, output, aws_url, flags_file, exporter)
        server.serve_forever()
    except _Stop as stop:
        print(f"invest serve: {stop}, stopping", file=sys.stderr, flush=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        faulthandler.unregister(signal.SIGUSR1)
        if server is not None:
            server.server_close()
        if aws_server is not None:
            if aws_thread is not None and aws_thread.is_alive():
                aws_server.shutdown()  # would wait forever for a serve_forever never started
            aws_server.server_close()
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        gateway.close()


def _print_banner(
    gateway: Gateway, server: _Server, output: WorkerOutput, aws_url: str, flags_file: Path, exporter: Any
) -> None:
    targets = [*gateway.routes.routes, *([gateway.routes.default] if gateway.routes.default else [])]
    width = max((len(target.route_key) for target in targets), default=0)
    lines = [f"invest serve: {len(gateway.pools)} functions of {gateway.template}"]
    lines += [f"  {target.route_key:<{width}}  {target.function.name}" for target in targets]
    for route_key, function in gateway.stream.routes.items():
        lines.append(f"  {'WS ' + route_key:<{width}}  {function}")
    lines.append(f"  metrics (EMF) -> {output.metrics_file}")
    if exporter is not None:
        lines.append(f"  metrics (Prometheus) -> http://{exporter.server_address[0]}:{exporter.server_port}/metrics")
    lines.append(f"  feature flags: {flags_file} (edit it while this runs)")
    host, port = server.server_address[:2]
    lines.append("  containers start in the background, one per function; requests are served meanwhile")
    lines.append(f"  stream: ws://{host!s}:{port}{STREAM_PATH}")
    lines.append(f"  AWS APIs for the functions (SigV4-signed, this machine only): {aws_url}")
    lines.append(f"Listening on http://{host!s}:{port} (Ctrl-C to stop)")
    print("\n".join(lines), file=sys.stderr, flush=True)
