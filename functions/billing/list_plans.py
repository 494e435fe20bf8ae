"""GET /v1/billing/plans: the plan catalogue (no authentication)."""

from investment_system.entrypoints import http_handler
from investment_system.http import create_app, error_responses
from investment_system.schemas.plans import PlanList
from investment_system.services.billing.published_plans import list_plans

app = create_app()


@app.get(
    "/v1/billing/plans",
    operation_id="listPlans",
    summary="The plans and their quotas",
    description="The catalogue, cheapest first: each plan's price, quotas and features. No token needed.",
    tags=["Billing"],
    responses={200: {"description": "Every plan, cheapest first"}, **error_responses()},
)
def get_plans() -> PlanList:
    return list_plans()


handler = http_handler(app)
