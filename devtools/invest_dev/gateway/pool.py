"""A function's pool of warm containers, and how an invocation gets one.

As in Lambda, a container serves one invocation at a time: Powertools resolvers keep the current
event in class attributes, so two requests must never share a process at once. A pool starts
another container when all of its containers are busy, up to a cap. A handler that raises, a
container that dies or overruns the function's Timeout all give API Gateway's 502; a container that
dies or times out is replaced.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from invest_dev.gateway.containers import (
    Container,
    ContainerError,
    InvocationTimeout,
    WorkerOutput,
    stop_together,
    worker_environment,
)
from invest_dev.gateway.responses import GatewayError, integration_timeout, internal_error, service_unavailable
from invest_dev.template import FunctionSpec

MAX_CONTAINERS_PER_FUNCTION = 4
INIT_TIMEOUT_SECONDS = 30.0  # generous: several containers may import at once on a busy laptop


class FunctionPool:
    """The warm containers of one function; another starts when all are busy, up to a cap."""

    def __init__(
        self, spec: FunctionSpec, template: Path, output: WorkerOutput, max_containers: int, rate_limits: Path
    ) -> None:
        self.spec = spec
        self._template = template
        self._output = output
        self._rate_limits = rate_limits
        self._max = max_containers
        self._environment = worker_environment(spec)
        self._idle: list[Container] = []
        self._containers: set[Container] = set()
        self._starting = 0
        self._launching: set[Container] = set()  # started, still importing the function
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
                    raise internal_error() from None
                raise integration_timeout() from None
            except ContainerError as error:
                _log_gateway_error(self.spec, str(error))
                raise internal_error() from None
            healthy = True
        finally:
            self._release(container, healthy)
        if "error" in reply:
            raise internal_error()  # the worker logged the handler's exception
        return reply["result"]

    def add_environment(self, values: dict[str, str]) -> None:
        """Variables for the containers started from now on (the gateway's own URL, known once it listens);
        the developer's environment still wins."""
        self._environment = {**self._environment, **{k: v for k, v in values.items() if k not in os.environ}}

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
            busy = self._containers.difference(idle) | self._launching
            self._containers.clear()
            self._changed.notify_all()
        for container in busy:
            container.kill()  # its request gets a 502, its start fails; its thread closes the connection
        stop_together(idle)
        for container in busy:
            container.process.wait()

    def _acquire(self, deadline: float) -> Container:
        with self._changed:
            while True:
                if self._closed:
                    raise service_unavailable()
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
                    raise integration_timeout()
                self._changed.wait(remaining)
        return self._start_reserved()

    def _start_reserved(self) -> Container:
        """Start a container in a slot already counted in `_starting`."""
        container: Container | None = None
        try:
            container = Container(self.spec, self._template, self._environment, self._output, self._rate_limits)
            with self._changed:
                self._launching.add(container)
            container.wait_ready(INIT_TIMEOUT_SECONDS)
        except ContainerError as error:
            with self._changed:
                self._starting -= 1
                self._launching.discard(container)
                self._changed.notify()
                closed = self._closed
            if container is not None:
                container.stop()
            if closed:  # killed by close(): nothing went wrong
                raise service_unavailable() from None
            _log_gateway_error(self.spec, str(error))
            raise internal_error() from None
        with self._changed:
            self._starting -= 1
            self._launching.discard(container)
            closed = self._closed
            if not closed:
                self._containers.add(container)
        if closed:
            container.stop()
            raise service_unavailable()
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
