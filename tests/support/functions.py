"""Helpers for invoking functions the way API Gateway does."""

from __future__ import annotations

import json
from typing import Any

from invest_dev.events import LambdaContextStub, http_event
from invest_dev.template import functions, import_function


def function_module(logical_id: str) -> Any:
    spec = next(spec for spec in functions() if spec.name == logical_id)
    return import_function(spec)


class Reply:
    """A function's HTTP answer, with the body decoded."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.status: int = raw["statusCode"]
        self.headers: dict[str, str] = raw.get("headers", {})
        body = raw.get("body")
        self.text: str = body if isinstance(body, str) else ""
        self.json: Any = (
            json.loads(body) if body and self.headers.get("Content-Type", "").startswith("application/json") else None
        )

    @property
    def error_code(self) -> str | None:
        return (self.json or {}).get("error", {}).get("code")


def invoke(
    logical_id: str,
    method: str,
    path: str,
    *,
    route: str | None = None,
    json_body: Any = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> Reply:
    """Invoke a function of template.yaml with an HTTP API event; `route` is its route path template."""
    all_headers = {"content-type": "application/json", **(headers or {})}
    if json_body is not None:
        body = json.dumps(json_body)
    event = http_event(
        method,
        path,
        route_key=f"{method} {route or path}",
        headers=all_headers,
        query=query,
        path_parameters=path_parameters,
        body=body,
    )
    return Reply(function_module(logical_id).handler(event, LambdaContextStub(function_name=logical_id)))


def record_calls(monkeypatch: Any, owner: Any, name: str) -> list[Any]:
    """The first argument of every call of `owner.<name>` from now on (the calls still happen)."""
    calls: list[Any] = []
    original = getattr(owner, name)

    def recording(first: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(first)
        return original(first, *args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return calls
