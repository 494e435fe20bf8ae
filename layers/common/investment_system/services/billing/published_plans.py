"""The plan catalogue as released, for GET /v1/billing/plans without a database.

Plans change only by migration, so the catalogue that a release's migrations leave in the database
is known when the layer is built: `make generate` writes it to investment_system/plans.json, and a
test checks it against a migrated database. Listing the plans then needs neither SQLAlchemy nor a
connection, and starts as fast as the catch-all. Quotas, prices at checkout and the plan in force
are still read from the database's rows (services/billing/plans.py).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from investment_system.schemas.plans import PlanList

PLANS_FILE = Path(__file__).resolve().parents[2] / "plans.json"


@cache
def list_plans() -> PlanList:
    """Every plan, cheapest first, read once per container."""
    return PlanList.model_validate_json(PLANS_FILE.read_bytes())
