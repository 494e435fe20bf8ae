"""Every file generated from the template and the code, rewritten by one command: `invest generate`.

- layers/common/investment_system/openapi.json: the OpenAPI document the docs and catch-all serve;
- monitoring/template.yaml: the dashboard and alarms, a nested stack of template.yaml;
- monitoring/grafana-dashboard.json: the same dashboard for Grafana (invest_dev/grafana.py);
- the `Monitoring` resource of template.yaml (between its GENERATED markers);
- layers/common/investment_system/plans.json: the plan catalogue the migrations leave in a new database,
  which GET /v1/billing/plans lists (services/billing/published_plans.py).

A test compares each file with what this module produces now, so none goes stale unnoticed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from invest_dev import grafana, monitoring
from invest_dev.openapi import BUNDLED, build_document, render
from invest_dev.template import TEMPLATE


def released_plans() -> tuple[Path, str]:
    """The plans that the migrations leave in a new database, as GET /v1/billing/plans lists them: where
    the layer keeps them, and the text."""
    from sqlalchemy.orm import Session

    from investment_system.db.engine import build_engine
    from investment_system.db.migrate import upgrade
    from investment_system.repositories.billing.subscriptions import PlanRepository
    from investment_system.schemas.plans import PlanList
    from investment_system.services.billing.plans import plan_out
    from investment_system.services.billing.published_plans import PLANS_FILE
    from investment_system.settings import DatabaseSettings

    with tempfile.TemporaryDirectory(prefix="invest-plans-") as scratch:
        engine = build_engine(DatabaseSettings(url=f"sqlite:///{Path(scratch, 'plans.db')}"))
        try:
            upgrade(engine)
            with Session(engine) as session:
                plans = PlanList(items=[plan_out(plan) for plan in PlanRepository(session).all()])
        finally:
            engine.dispose()
    return PLANS_FILE, plans.model_dump_json(indent=2) + "\n"


def generated_files(template: Path = TEMPLATE) -> dict[Path, str]:
    """Each generated file and the text it should have now."""
    plans_file, plans = released_plans()
    return {
        BUNDLED: render(build_document(template)),
        **monitoring.generated_files(template),
        **grafana.generated_files(template),
        plans_file: plans,
    }


def write_generated(template: Path = TEMPLATE) -> list[Path]:
    """Rewrite every generated file that differs; the ones that changed."""
    changed = []
    for path, text in generated_files(template).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
