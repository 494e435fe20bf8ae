"""What a route declares about itself beyond Powertools' options: how it is rate limited, whether its
answers may be stored, whether the maintenance switch stops it.

A route declares them in its decorator, `openapi_extensions=route_facts(...)` (Powertools' own option),
so the same declaration drives the request guards and shows in the OpenAPI document. A route that
declares nothing counts against its caller, is stored or not by the contract's path rule, and changes
data unless its method is a read (GET, HEAD, OPTIONS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from investment_system.http.compat import registered_routes

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

# The contract: every answer under these paths carries Cache-Control: no-store, unknown paths included.
NO_STORE_PREFIXES = ("/v1/auth", "/v1/users", "/v1/admin", "/v1/billing")
RATE_LIMIT_EXTENSION = "x-rate-limit"
NO_STORE_EXTENSION = "x-no-store"
CHANGES_DATA_EXTENSION = "x-changes-data"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RateLimit(StrEnum):
    PER_CALLER = "per-caller"  # the access token's user, else the client IP
    PER_IP = "per-ip"  # the client IP, whatever token comes (sign-up, login, refresh)
    NONE = "none"  # not counted (health, docs, the signed payment webhook)


@dataclass(frozen=True)
class RouteFacts:
    rate_limit: RateLimit = RateLimit.PER_CALLER
    no_store: bool | None = None  # None: the contract's rule (NO_STORE_PREFIXES)
    # Whether `maintenance` refuses it (503 MAINTENANCE_MODE); None: every method but a read's does.
    changes_data: bool | None = None

    def stores_nothing(self, path: str) -> bool:
        """Whether the answer on `path` carries Cache-Control: no-store."""
        return path.startswith(NO_STORE_PREFIXES) if self.no_store is None else self.no_store

    def stopped_by_maintenance(self, method: str) -> bool:
        """Whether a request with `method` changes data, so that the maintenance switch refuses it."""
        return method.upper() not in READ_METHODS if self.changes_data is None else self.changes_data

    @classmethod
    def of(cls, extensions: Mapping[str, Any] | None) -> RouteFacts:
        """The facts a route's `openapi_extensions` (or its operation in the document) declare."""
        extensions = extensions or {}
        return cls(
            RateLimit(extensions.get(RATE_LIMIT_EXTENSION, RateLimit.PER_CALLER)),
            extensions.get(NO_STORE_EXTENSION),
            extensions.get(CHANGES_DATA_EXTENSION),
        )


UNDECLARED = RouteFacts()


def route_facts(
    *, rate_limit: RateLimit = RateLimit.PER_CALLER, no_store: bool | None = None, changes_data: bool | None = None
) -> dict[str, Any]:
    """A route's `openapi_extensions` declaring how it differs from the defaults (see `RouteFacts`)."""
    extensions: dict[str, Any] = {}
    if rate_limit is not RateLimit.PER_CALLER:
        extensions[RATE_LIMIT_EXTENSION] = rate_limit.value
    if no_store is not None:
        extensions[NO_STORE_EXTENSION] = no_store
    if changes_data is not None:
        extensions[CHANGES_DATA_EXTENSION] = changes_data
    return extensions


def declared_facts(app: APIGatewayHttpResolver, route_key: str) -> RouteFacts:
    """The facts of the app's route API Gateway matched (`routeKey`, e.g. "GET /v1/signals/{id}")."""
    for route in registered_routes(app):
        if f"{route.method} {route.openapi_path}" == route_key:
            return RouteFacts.of(route.openapi_extensions)
    return UNDECLARED
