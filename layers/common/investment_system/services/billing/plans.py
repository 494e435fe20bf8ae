"""The plan catalogue, cached per container.

Plans change only by migration, yet every quota check, usage read and rate-limit lookup needs
them; a per-container copy refreshed every `PLAN_CACHE_TTL_SECONDS` saves that query on nearly
every request, and bounds how long a container serves a changed price or quota. The list that
GET /v1/billing/plans answers is the released copy of the same rows (services/billing/published_plans.py).
"""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from investment_system.db import unit_of_work
from investment_system.errors import ErrorCode, NotFound
from investment_system.models.billing import Plan as PlanRow
from investment_system.repositories.billing.subscriptions import PlanRepository
from investment_system.schemas.plans import Plan, PlanQuotas
from investment_system.snapstart import after_restore

PLAN_CACHE_TTL_SECONDS = 300.0

# (monotonic deadline, plans by code in catalogue order)
_cache: tuple[float, dict[str, Plan]] | None = None


def plan_out(plan: PlanRow) -> Plan:
    return Plan(
        code=plan.code,
        name=plan.name,
        price_cents=plan.price_cents,
        currency=plan.currency,
        interval=plan.interval,
        quotas=PlanQuotas(signals_per_day=plan.signals_per_day, requests_per_minute=plan.requests_per_minute),
        features=list(plan.features),
    )


def plan_catalogue(session: Session | None = None) -> dict[str, Plan]:
    """Every plan by code, cheapest first. When the container's copy is stale it is read again, through
    `session` when the caller has one (a container has a single connection), else in a unit of work."""
    global _cache
    now = time.monotonic()
    if _cache is None or _cache[0] <= now:
        if session is None:
            with unit_of_work() as own_session:
                return plan_catalogue(own_session)
        _cache = (now + PLAN_CACHE_TTL_SECONDS, {plan.code: plan_out(plan) for plan in PlanRepository(session).all()})
    return _cache[1]


def forget_catalogue() -> None:
    """Drop the container's copy: a restored container reads the rows again (a snapshot may be old), as
    does one whose copy a replay before the snapshot read from its scratch database."""
    global _cache
    _cache = None


after_restore(forget_catalogue)


def add_released_catalogue(session: Session) -> None:
    """Write the released catalogue (`published_plans`) as the plan rows of an empty database: the
    scratch database of a replay before a SnapStart snapshot (entrypoints/sample_world.py)."""
    from investment_system.services.billing.published_plans import list_plans

    PlanRepository(session).add_all(
        PlanRow(
            code=plan.code,
            name=plan.name,
            price_cents=plan.price_cents,
            currency=plan.currency,
            interval=plan.interval,
            signals_per_day=plan.quotas.signals_per_day,
            requests_per_minute=plan.quotas.requests_per_minute,
            features=list(plan.features),
        )
        for plan in list_plans().items
    )


def get_plan(session: Session, code: str) -> Plan:
    """The plan with this code; 404 PLAN_NOT_FOUND otherwise."""
    plan = plan_catalogue(session).get(code)
    if plan is None:
        raise NotFound(ErrorCode.PLAN_NOT_FOUND, f"There is no plan '{code}'.")
    return plan
