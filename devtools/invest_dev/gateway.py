"""`invest serve`: the HTTP API of template.yaml on this machine, without Docker.

It stands in for API Gateway (HTTP API, payload format 2.0) in front of Lambda:

- Each function's HttpApi routes are matched with API Gateway's precedence: a path of static
  segments before one with `{parameters}`, those before a greedy `{proxy+}`, a method before `ANY`,
  and `$default` for whatever matches nothing. The request becomes a payload-2.0 event.
- Each function runs in worker processes of its own ("containers"). A container imports the handler
  once and serves one invocation at a time, as in Lambda: Powertools resolvers keep the current
  event in class attributes, so two requests must never share a process at once. A function's pool
  starts another container when all of its containers are busy, up to a cap. At start-up, one
  container per function warms up in the background while requests are already served.
- The function's answer becomes the HTTP response. A handler that raises, a malformed answer, a
  container that dies or overruns the function's Timeout all give API Gateway's
  `502 {"message":"Internal Server Error"}`; a container that dies or times out is replaced.
- What containers print goes to the gateway's stdout, except CloudWatch EMF lines (Powertools
  Metrics), which are appended to the metrics file (METRICS_FILE, default .local/metrics.jsonl)
  where the local dashboard reads them. Access log lines go to stderr.

Containers are subprocesses running this module, talking over a multiprocessing socket pair:
forking a threaded server is unsafe, and a subprocess's stdout is captured at the descriptor level,
whatever writes to it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import IO, Any, cast
from urllib.parse import unquote, urlsplit

from invest_dev.events import LambdaContextStub, http_event
from invest_dev.template import TEMPLATE, FunctionSpec, Route, functions, http_functions, import_function

MAX_CONTAINERS_PER_FUNCTION = 4
INTEGRATION_TIMEOUT_SECONDS = 30.0  # API Gateway HTTP API waits at most this long for a function
INIT_TIMEOUT_SECONDS = 30.0  # generous: several containers may import at once on a busy laptop
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
SHUTDOWN_GRACE_SECONDS = 3.0
DEFAULT_METRICS_FILE = ".local/metrics.jsonl"
# template.yaml's Globals turn on TLS to RDS; local database servers don't speak it. The
# environment of `invest serve` still wins over both.
LOCAL_ENVIRONMENT = {"DATABASE_SSL": "false"}
_HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})


# --- API Gateway's own answers -------------------------------------------------------------------


class GatewayError(Exception):
    """A response API Gateway gives by itself, when the function gave none it could use."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


def _internal_error() -> GatewayError:
    return GatewayError(502, "Internal Server Error")


def _service_unavailable() -> GatewayError:
    return GatewayError(503, "Service Unavailable")


def _integration_timeout() -> GatewayError:
    return GatewayError(504, "Service Unavailable")


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def from_gateway_error(cls, error: GatewayError) -> HttpResponse:
        body = json.dumps({"message": error.message}).encode()
        return cls(error.status, [("Content-Type", "application/json")], body)


# --- Routing -------------------------------------------------------------------------------------

_STATIC, _PARAMETER, _GREEDY = 0, 1, 2  # lower is more specific


@dataclass(frozen=True)
class _Segment:
    kind: int
    text: str  # the static text, or the parameter's name


def _parse_route_path(path: str) -> tuple[_Segment, ...]:
    segments = []
    for part in path.split("/")[1:]:
        if part.startswith("{") and part.endswith("+}"):
            segments.append(_Segment(_GREEDY, part[1:-2]))
        elif part.startswith("{") and part.endswith("}"):
            segments.append(_Segment(_PARAMETER, part[1:-1]))
        else:
            segments.append(_Segment(_STATIC, part))
    return tuple(segments)


@dataclass(frozen=True)
class RouteTarget:
    """One route of the template and the function it invokes."""

    route: Route
    function: FunctionSpec

    @property
    def route_key(self) -> str:
        return "$default" if self.route.is_default else f"{self.route.method} {self.route.path}"

    @property
    def precedence(self) -> tuple[bool, tuple[int, ...], bool]:
        kinds = tuple(segment.kind for segment in _parse_route_path(self.route.path))
        return (_GREEDY in kinds, kinds, self.route.method == "ANY")

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        """The path parameters (URL-decoded, as API Gateway passes them) when this route matches."""
        if self.route.method not in ("ANY", method):
            return None
        segments = _parse_route_path(self.route.path)
        parameters: dict[str, str] = {}
        for index, segment in enumerate(segments):
            if segment.kind == _GREEDY:
                rest = parts[index:]
                if not rest or rest == [""]:
                    return None
                parameters[segment.text] = unquote("/".join(rest))
                return parameters
            if index >= len(parts):
                return None
            if segment.kind == _PARAMETER:
                if not parts[index]:
                    return None
                parameters[segment.text] = unquote(parts[index])
            elif unquote(parts[index]) != segment.text:
                return None
        return parameters if len(parts) == len(segments) else None


class RouteTable:
    """The template's HttpApi routes, most specific first, and the `$default` route."""

    def __init__(self, specs: Iterable[FunctionSpec]) -> None:
        targets = [RouteTarget(route, spec) for spec in specs for route in spec.routes]
        self.routes = sorted((t for t in targets if not t.route.is_default), key=lambda t: t.precedence)
        self.default = next((t for t in targets if t.route.is_default), None)

    def resolve(self, method: str, path: str) -> tuple[RouteTarget, dict[str, str]] | None:
        parts = path.split("/")[1:]
        for target in self.routes:
            parameters = target.match(method, parts)
            if parameters is not None:
                return target, parameters
        return (self.default, {}) if self.default is not None else None


# --- The function's answer as HTTP ---------------------------------------------------------------


def http_response(result: Any) -> HttpResponse:
    """A payload-2.0 function result as HTTP; a malformed one is API Gateway's 502.

    A result without statusCode is taken as a JSON body with status 200, as API Gateway does.
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    status = result["statusCode"]
    headers = result.get("headers") or {}
    cookies = result.get("cookies") or []
    body = result.get("body") or ""
    if (
        isinstance(status, bool)
        or not isinstance(status, int)
        or not 100 <= status <= 599
        or not isinstance(headers, dict)
        or not isinstance(cookies, list)
        or not isinstance(body, str)
    ):
        raise _internal_error()
    response = HttpResponse(status)
    for name, value in headers.items():
        if str(name).lower() not in _HOP_BY_HOP:
            response.headers.append((_header_text(name), _header_text(value)))
    response.headers.extend(("Set-Cookie", _header_text(cookie)) for cookie in cookies)
    if result.get("isBase64Encoded"):
        try:
            response.body = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise _internal_error() from None
    else:
        response.body = body.encode("utf-8")
    return response


def _header_text(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        raise _internal_error()
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if any(char in text for char in "\r\n\0"):  # never let a function split the response
        raise _internal_error()
    return text


# --- Output of the containers --------------------------------------------------------------------


class WorkerOutput:
    """Where containers' stdout goes: log lines to the gateway's stdout, EMF lines to the metrics file."""

    def __init__(self, metrics_file: Path, stream: IO[str]) -> None:
        self.metrics_file = metrics_file
        self._stream = stream
        self._lock = threading.Lock()

    def write_line(self, line: str) -> None:
        with self._lock:
            if _is_emf(line):
                self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
                # Opened per line so that a reader may truncate or rotate the file at any time.
                with self.metrics_file.open("a", encoding="utf-8") as metrics:
                    metrics.write(line + "\n")
            else:
                self._stream.write(line + "\n")
                self._stream.flush()


def _is_emf(line: str) -> bool:
    if not (line.startswith("{") and '"_aws"' in line):
        return False
    try:
        document = json.loads(line)
    except ValueError:
        return False
    return isinstance(document, dict) and "_aws" in document


# --- Containers ----------------------------------------------------------------------------------


class ContainerError(Exception):
    """The container could not answer: it failed to start, died, or ran out of time."""


class InvocationTimeout(ContainerError):
    pass


class Container:
    """A worker process that imported one function and serves its invocations one at a time."""

    def __init__(self, spec: FunctionSpec, template: Path, environment: Mapping[str, str], output: WorkerOutput):
        self.spec = spec
        ours, theirs = Pipe()
        command = [sys.executable, "-m", "invest_dev.gateway", "worker", str(template), spec.name]
        try:
            self.process = subprocess.Popen(
                [*command, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                env=dict(environment),
            )
        except OSError as error:
            ours.close()
            raise ContainerError(f"cannot start a container for {spec.name}: {error}") from error
        finally:
            theirs.close()
        self._connection = ours
        stdout = cast(IO[bytes], self.process.stdout)
        self._forwarder = threading.Thread(target=self._forward, args=(stdout, output), daemon=True)
        self._forwarder.start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        if not self._connection.poll(timeout):
            raise ContainerError(f"{self.spec.name} did not start within {timeout:.0f} s")
        if "ready" not in self._receive():
            raise ContainerError(f"{self.spec.name} failed to initialise (see its log above)")

    def invoke(self, event: dict[str, Any], timeout: float) -> dict[str, Any]:
        """The worker's reply: {"result": ...} or {"error": ...}."""
        try:
            self._connection.send_bytes(json.dumps({"event": event}).encode())
        except OSError as error:
            raise ContainerError(f"{self.spec.name} is gone: {error}") from error
        if not self._connection.poll(max(timeout, 0.0)):
            raise InvocationTimeout(f"{self.spec.name} timed out")
        return self._receive()

    def _receive(self) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = json.loads(self._connection.recv_bytes())
        except (EOFError, OSError) as error:
            raise ContainerError(f"{self.spec.name} died (exit code {self.process.poll()})") from error
        return reply

    def kill(self) -> None:
        if self.alive:
            self.process.kill()

    def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """End the worker: an idle one exits when its connection closes; a stuck one is killed."""
        self._connection.close()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._forwarder.join(grace)

    @staticmethod
    def _forward(stdout: IO[bytes], output: WorkerOutput) -> None:
        with stdout:
            for raw in stdout:
                output.write_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))


def worker_environment(spec: FunctionSpec) -> dict[str, str]:
    """A container's environment: the template's variables under the local environment, plus what
    Lambda (and `sam local`, which Powertools' Tracer recognises) set."""
    # The gateway owns the metrics file: it appends the EMF lines containers print. A container
    # given METRICS_FILE would append its own copy of each (observability.py does when it is set).
    inherited = {name: value for name, value in os.environ.items() if name != "METRICS_FILE"}
    return {
        **spec.environment,
        **LOCAL_ENVIRONMENT,
        **inherited,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_SAM_LOCAL": "true",
        "PYTHONUNBUFFERED": "1",  # log lines reach the gateway as they are written
    }


class FunctionPool:
    """The warm containers of one function; another starts when all are busy, up to a cap."""

    def __init__(self, spec: FunctionSpec, template: Path, output: WorkerOutput, max_containers: int) -> None:
        self.spec = spec
        self._template = template
        self._output = output
        self._max = max_containers
        self._environment = worker_environment(spec)
        self._idle: list[Container] = []
        self._containers: set[Container] = set()
        self._starting = 0
        self._warming = False  # a warm-up start is under way: its container will soon be idle
        self._closed = False
        self._changed = threading.Condition()

    def invoke(self, event: dict[str, Any], integration_deadline: float) -> Any:
        """The handler's result for this event, or a GatewayError as API Gateway would answer."""
        container = self._acquire(integration_deadline)
        healthy = False
        try:
            now = time.monotonic()
            function_deadline = now + self.spec.timeout_seconds
            try:
                reply = container.invoke(event, min(function_deadline, integration_deadline) - now)
            except InvocationTimeout:
                if function_deadline <= integration_deadline:
                    _log_gateway_error(self.spec, f"Task timed out after {self.spec.timeout_seconds:.2f} seconds")
                    raise _internal_error() from None
                raise _integration_timeout() from None
            except ContainerError as error:
                _log_gateway_error(self.spec, str(error))
                raise _internal_error() from None
            healthy = True
        finally:
            self._release(container, healthy)
        if "error" in reply:
            raise _internal_error()  # the worker logged the handler's exception
        return reply["result"]

    def warm_up(self) -> None:
        """Start one container and keep it idle, unless the pool has one already."""
        with self._changed:
            if self._closed or self._containers or self._starting:
                return
            self._starting += 1
            self._warming = True
        try:
            self._release(self._start_reserved(), healthy=True)  # idle before waiters are told
        except GatewayError:
            pass  # logged; the next request tries again, as Lambda retries a failed init
        finally:
            with self._changed:
                self._warming = False
                self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = self._containers.difference(idle)
            self._containers.clear()
            self._changed.notify_all()
        for container in busy:
            container.kill()  # its request gets a 502; its thread closes the connection
        for container in idle:
            container.stop()
        for container in busy:
            container.process.wait()

    def _acquire(self, deadline: float) -> Container:
        with self._changed:
            while True:
                if self._closed:
                    raise _service_unavailable()
                while self._idle:
                    container = self._idle.pop()  # the most recently used: warmest caches
                    if container.alive:
                        return container
                    self._containers.discard(container)
                    container.stop()
                # Rather than start a second container, wait for the one warming up.
                if not self._warming and len(self._containers) + self._starting < self._max:
                    self._starting += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _integration_timeout()
                self._changed.wait(remaining)
        return self._start_reserved()

    def _start_reserved(self) -> Container:
        """Start a container in a slot already counted in `_starting`."""
        container: Container | None = None
        try:
            container = Container(self.spec, self._template, self._environment, self._output)
            container.wait_ready(INIT_TIMEOUT_SECONDS)
        except ContainerError as error:
            _log_gateway_error(self.spec, str(error))
            if container is not None:
                container.stop()
            with self._changed:
                self._starting -= 1
                self._changed.notify()
            raise _internal_error() from None
        with self._changed:
            self._starting -= 1
            closed = self._closed
            if not closed:
                self._containers.add(container)
        if closed:
            container.stop()
            raise _service_unavailable()
        return container

    def _release(self, container: Container, healthy: bool) -> None:
        with self._changed:
            if healthy and container.alive and not self._closed:
                self._idle.append(container)
                self._changed.notify()
                return
            self._containers.discard(container)
            self._changed.notify()
            closed = self._closed
        container.kill()
        container.stop()
        if not closed:  # replace it, so the function stays warm
            threading.Thread(target=self.warm_up, name=f"warm-{self.spec.name}", daemon=True).start()


def _log_gateway_error(spec: FunctionSpec, message: str) -> None:
    print(
        json.dumps({"level": "ERROR", "source": "invest-gateway", "function": spec.name, "message": message}),
        file=sys.stderr,
        flush=True,
    )


# --- The gateway ---------------------------------------------------------------------------------


class Gateway:
    """Routes HTTP requests to the template's functions and turns their answers into HTTP."""

    def __init__(self, template: Path, output: WorkerOutput, max_containers: int = MAX_CONTAINERS_PER_FUNCTION):
        specs = http_functions(template)
        self.template = template
        self.routes = RouteTable(specs)
        self.pools = {spec.name: FunctionPool(spec, template, output, max_containers) for spec in specs}

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
        threads = [threading.Thread(target=pool.close, daemon=True) for pool in self.pools.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        request.integration_deadline = request.received + INTEGRATION_TIMEOUT_SECONDS
        resolved = self.routes.resolve(request.method, request.path)
        if resolved is None:
            return HttpResponse.from_gateway_error(GatewayError(404, "Not Found"))
        target, path_parameters = resolved
        request.route_key, request.function = target.route_key, target.function.name
        event = http_event(
            request.method,
            request.path,
            route_key=target.route_key,
            headers=request.headers,
            raw_query=request.query,
            path_parameters=path_parameters,
            body=request.body or None,
            source_ip=request.source_ip,
        )
        request.request_id = event["requestContext"]["requestId"]
        integration_started = time.monotonic()
        try:
            response = http_response(self.pools[target.function.name].invoke(event, request.integration_deadline))
        except GatewayError as error:
            response = HttpResponse.from_gateway_error(error)
        request.integration_latency = time.monotonic() - integration_started
        return response


@dataclass
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    source_ip: str
    received: float = field(default_factory=time.monotonic)
    # Filled in on the way, for the access log.
    integration_deadline: float = 0.0
    route_key: str = "-"
    function: str = "-"
    request_id: str = "-"
    integration_latency: float = 0.0

    def access_log(self, status: int) -> str:
        return json.dumps(
            {
                "requestId": self.request_id,
                "ip": self.source_ip,
                "method": self.method,
                "path": self.path,
                "routeKey": self.route_key,
                "function": self.function,
                "status": status,
                "latencyMs": round((time.monotonic() - self.received) * 1000, 1),
                "integrationLatencyMs": round(self.integration_latency * 1000, 1),
            }
        )


class _BadRequest(Exception):
    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # in-flight requests must not hold up shutdown
    request_queue_size = 128  # bursts of parallel clients wait in the backlog, not in SYN retries

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        self.gateway = gateway
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like API Gateway
    server_version = "invest-local-gateway"
    timeout = 120  # idle keep-alive connections are dropped after this

    def _dispatch(self) -> None:
        gateway = cast(_Server, self.server).gateway
        target = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=target.path or "/",
            query=target.query,
            headers=self._event_headers(),
            body=b"",
            source_ip=self.client_address[0],
        )
        try:
            request.body = self._read_body()
            response = gateway.dispatch(request)
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

    def _event_headers(self) -> dict[str, str]:
        """Request headers as API Gateway passes them: lower-case names, repeated ones joined by commas."""
        joined: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            joined.setdefault(name.lower(), []).append(value)
        headers = {name: ("; " if name == "cookie" else ",").join(values) for name, values in joined.items()}
        client_ip = self.client_address[0]
        forwarded = headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {client_ip}" if forwarded else client_ip
        headers["x-forwarded-proto"] = "http"
        headers["x-forwarded-port"] = str(cast(_Server, self.server).server_port)
        return headers

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


# --- `invest serve` ------------------------------------------------------------------------------


class _Stop(Exception):
    """SIGINT or SIGTERM: leave serve_forever and shut down cleanly."""


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


def serve(
    host: str = "127.0.0.1",
    port: int = 3000,
    *,
    template: Path = TEMPLATE,
    max_containers: int = MAX_CONTAINERS_PER_FUNCTION,
) -> None:
    """Serve the template's functions over HTTP until SIGINT (Ctrl-C) or SIGTERM."""
    output = WorkerOutput(metrics_file(), sys.stdout)
    gateway = Gateway(template, output, max_containers)
    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    server: _Server | None = None
    try:
        try:
            server = _Server((host, port), gateway)
        except OSError as error:
            raise SystemExit(f"invest serve: cannot listen on {host}:{port}: {error}") from None
        gateway.start_warming()
        _print_banner(gateway, server, output)
        server.serve_forever()
    except _Stop as stop:
        print(f"invest serve: {stop}, stopping", file=sys.stderr, flush=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server is not None:
            server.server_close()
        gateway.close()


def _print_banner(gateway: Gateway, server: _Server, output: WorkerOutput) -> None:
    targets = [*gateway.routes.routes, *([gateway.routes.default] if gateway.routes.default else [])]
    width = max((len(target.route_key) for target in targets), default=0)
    lines = [f"invest serve: {len(gateway.pools)} functions of {gateway.template}"]
    lines += [f"  {target.route_key:<{width}}  {target.function.name}" for target in targets]
    lines.append(f"  metrics (EMF) -> {output.metrics_file}")
    host, port = server.server_address[:2]
    lines.append("  containers start in the background, one per function; requests are served meanwhile")
    lines.append(f"Listening on http://{host!s}:{port} (Ctrl-C to stop)")
    print("\n".join(lines), file=sys.stderr, flush=True)


# --- Inside a container --------------------------------------------------------------------------


def run_worker(template: Path, function_name: str, connection_fd: int) -> int:
    """A container's life: import the function once, then answer invocations until the gateway goes."""
    # Ctrl-C reaches the whole process group; the gateway decides when containers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection: Connection = Connection(connection_fd)
    spec = next(spec for spec in functions(template) if spec.name == function_name)
    sys.path.insert(0, str(spec.code_uri))  # Lambda's task root: the function's sibling modules import
    try:
        handler = getattr(import_function(spec), spec.handler_attribute)
    except Exception as error:
        _log_handler_error(spec, "Init error", error)
        _reply(connection, json.dumps({"initError": type(error).__name__}))
        return 1
    if not _reply(connection, json.dumps({"ready": True})):
        return 0
    while True:
        try:
            message = json.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return 0  # the gateway is gone or gave up on this container
        context = LambdaContextStub(
            function_name=spec.name,
            memory_limit_in_mb=spec.memory_size_mb,
            timeout_seconds=spec.timeout_seconds,
            log_group_name=f"/aws/lambda/{spec.name}",
        )
        try:
            reply = json.dumps({"result": handler(message["event"], context)})
        except Exception as error:  # what Lambda reports as a function error
            _log_handler_error(spec, "Unhandled exception", error)
            reply = json.dumps({"error": {"errorType": type(error).__name__, "errorMessage": str(error)}})
        if not _reply(connection, reply):
            return 0


def _reply(connection: Connection, message: str) -> bool:
    """Send to the gateway; False when it no longer listens (it stopped, or gave up waiting)."""
    try:
        connection.send_bytes(message.encode())
    except OSError:
        return False
    return True


def _log_handler_error(spec: FunctionSpec, message: str, error: Exception) -> None:
    record = {
        "level": "ERROR",
        "source": "invest-gateway",
        "function": spec.name,
        "message": message,
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "worker":
        sys.exit("usage: python -m invest_dev.gateway worker TEMPLATE FUNCTION FD (started by `invest serve`)")
    sys.exit(run_worker(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
