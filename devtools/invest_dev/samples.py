"""The sample events of `events/` and what it takes to invoke a function with one.

`events/<FunctionLogicalId>.json` is an API Gateway HTTP API payload-2.0 event for one of the
function's routes, usable as it is with `sam local invoke <FunctionLogicalId> -e events/<...>.json`.
An event for a route that needs a signed-in caller carries an `Authorization: Bearer ...` header; its
token is a placeholder that `with_fresh_token` replaces with a valid one. Events may refer to the
sample accounts seeded by `seed_sample_users` (SAMPLE_USER_EMAIL / SAMPLE_ADMIN_EMAIL, password
SAMPLE_PASSWORD). tests/devtools/test_sample_events.py and the benchmark both use these helpers.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invest_dev.template import ROOT, FunctionSpec, Route

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from investment_system.schemas.auth import TokenPair
    from investment_system.services.billing.usage import DailySignalQuota

EVENTS_DIR = ROOT / "events"
SAMPLE_USER_EMAIL = "investor@example.com"
SAMPLE_ADMIN_EMAIL = "admin@example.com"
SAMPLE_PASSWORD = "Plum-Orchard-Ledger-42"  # noqa: S105 (a documented sample account's password)
_ADMIN_PATH_PREFIX = "/v1/admin"


def event_path(spec: FunctionSpec) -> Path:
    return EVENTS_DIR / f"{spec.name}.json"


def load_event(spec: FunctionSpec) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(event_path(spec).read_text(encoding="utf-8"))
    return event


def path_parameters(route: Route, path: str) -> dict[str, str] | None:
    """The path parameters `path` gives the route's template (`/v1/signals/{id}`, `{proxy+}`), or None
    when it does not match."""
    pattern = "^" + re.sub(r"\\\{([^}+]+)(\\\+)?\\\}", _parameter_pattern, re.escape(route.path)) + "$"
    found = re.match(pattern, path)
    return found.groupdict() if found else None


def _parameter_pattern(placeholder: re.Match[str]) -> str:
    return f"(?P<{placeholder.group(1)}>{'.+' if placeholder.group(2) else '[^/]+'})"


def matching_route(spec: FunctionSpec, event: dict[str, Any]) -> Route | None:
    """The function's route that API Gateway would have sent this event through, if any.

    Route key, method and path must agree with each other, and pathParameters with the path.
    """
    method = event.get("requestContext", {}).get("http", {}).get("method", "")
    path = event.get("rawPath", "")
    for route in spec.routes:
        if route.is_default:
            if event.get("routeKey") == "$default":
                return route
            continue
        if event.get("routeKey") != f"{route.method} {route.path}" or route.method not in ("ANY", method):
            continue
        if path_parameters(route, path) == (event.get("pathParameters") or {}):
            return route
    return None


@cache
def _secured_operations() -> frozenset[tuple[str, str]]:
    from investment_system.http.routing import openapi_document

    paths = json.loads(openapi_document()).get("paths", {})
    return frozenset(
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if operation.get("security")
    )


def requires_authentication(route: Route) -> bool:
    """Whether the OpenAPI document declares bearer authentication for this route."""
    return (route.method, route.path) in _secured_operations()


def authorization_header(event: dict[str, Any]) -> str | None:
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "authorization"), None)


@dataclass(frozen=True)
class SampleUsers:
    user_id: uuid.UUID
    admin_id: uuid.UUID


def seed_sample_users() -> SampleUsers:
    """Create the sample user and administrator in the container's database (already migrated)."""
    from investment_system.db.engine import unit_of_work
    from investment_system.models import User
    from investment_system.services.accounts.passwords import hash_password

    password_hash = hash_password(SAMPLE_PASSWORD)
    user = User(email=SAMPLE_USER_EMAIL, password_hash=password_hash, full_name="Sample Investor", role="user")
    admin = User(email=SAMPLE_ADMIN_EMAIL, password_hash=password_hash, full_name="Sample Admin", role="admin")
    with unit_of_work() as session:
        session.add_all([user, admin])
        session.flush()
        return SampleUsers(user_id=user.id, admin_id=admin.id)


def session_tokens(user_id: uuid.UUID) -> TokenPair:
    """A token pair of a new session of the user, as a login hands it out (without the password)."""
    from investment_system.db import unit_of_work
    from investment_system.db.base import utcnow
    from investment_system.repositories.accounts.users import UserRepository
    from investment_system.services.accounts.login_sessions import start_session
    from investment_system.services.accounts.reads import existing_user

    with unit_of_work() as session:
        return start_session(session, existing_user(UserRepository(session), user_id), now=utcnow())


def stream_ticket(user_id: uuid.UUID) -> str:
    """A stream ticket of a new session of the user, as POST /v1/stream/tickets hands it out."""
    from investment_system.services.accounts.tokens import verify_access_token
    from investment_system.services.stream.connections import issue_ticket

    session_id = uuid.UUID(verify_access_token(session_tokens(user_id).access_token)["sid"])
    return issue_ticket(user_id, session_id).ticket


def with_fresh_token(event: dict[str, Any], users: SampleUsers) -> dict[str, Any]:
    """A copy of the event whose Authorization header (if it has one) carries a valid access token:
    the administrator's for /v1/admin routes, the sample user's otherwise."""
    if authorization_header(event) is None:
        return event
    is_admin_route = event.get("rawPath", "").startswith(_ADMIN_PATH_PREFIX)
    token = session_tokens(users.admin_id if is_admin_route else users.user_id).access_token
    fresh = copy.deepcopy(event)
    fresh["headers"] = {k: v for k, v in fresh["headers"].items() if k.lower() != "authorization"}
    fresh["headers"]["authorization"] = f"Bearer {token}"
    return fresh


def unlimited_quota(session: Session, user_id: uuid.UUID) -> DailySignalQuota:
    """The user's quota of signals today, without its limit: what seeding passes to `create_signal`, which
    makes more signals for a user than a plan's day allows."""
    from dataclasses import replace

    from investment_system.db.base import utcnow
    from investment_system.services.billing.usage import daily_signal_quota

    quota = daily_signal_quota(session, user_id, utcnow())
    return replace(quota, count=replace(quota.count, limit=2**31 - 1))
