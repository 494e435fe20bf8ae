"""The maintenance switch's request guard (the `maintenance` feature flag).

While it is on, a route that changes data (http/route_facts.py: any method but a read's, unless the
route declares otherwise) answers 503 MAINTENANCE_MODE with Retry-After. Reads, the routes declaring
`changes_data=False` (the payment webhook, signing in) and administrators pass; only a request that
would be refused reads the flag, so reads never load the flags' store. docs/operations.md#feature-flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from investment_system.errors import ErrorCode, Unavailable
from investment_system.http.rate_limit import access_claims
from investment_system.http.route_facts import RouteFacts
from investment_system.settings import get_settings

ADMIN_ROLE = "admin"


def maintenance_guard(event: Mapping[str, Any], route_key: str, facts: RouteFacts) -> None:
    """503 MAINTENANCE_MODE for a request that changes data while maintenance is on and the caller is no admin."""
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "")
    # "$default": no route matched; the catch-all answers 404/405, which changes nothing.
    if route_key == "$default" or not facts.stopped_by_maintenance(method):
        return
    from investment_system.services.system.feature_flags import Flag, FlagContext, flag_enabled

    claims = access_claims(event) or {}
    role, plan = claims.get("role"), claims.get("plan")
    if role == ADMIN_ROLE:
        return
    context = FlagContext(role=role if isinstance(role, str) else None, plan=plan if isinstance(plan, str) else None)
    if flag_enabled(Flag.MAINTENANCE, context):
        raise Unavailable(
            ErrorCode.MAINTENANCE_MODE, retry_after=get_settings().feature_flags.maintenance_retry_after_seconds
        )
