"""The template's HttpApi routes, matched with API Gateway's precedence.

A path of static segments comes before one with `{parameters}`, those before a greedy `{proxy+}`,
a method before `ANY`, and `$default` takes whatever matches nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from invest_dev.template import FunctionSpec, Route

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
