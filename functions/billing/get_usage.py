"""GET /v1/billing/usage: the caller's usage and quotas for the current UTC day."""

from investment_system.entrypoints import http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.billing import Usage
from investment_system.services.billing.usage import usage_today

app = create_app()


@app.get(
    "/v1/billing/usage",
    operation_id="getUsage",
    summary="Your usage today",
    description="Signals you created today (UTC day) against your plan's daily quota, and your plan's rate limit. "
    "The quota resets at period_end.",
    tags=["Billing"],
    security=BEARER_SECURITY,
    responses={200: {"description": "Signals created today (UTC) and your plan's quotas"}, **error_responses(401, 403)},
)
def get_usage(user: CurrentUser) -> Usage:
    return usage_today(user.user_id)


handler = http_handler(app)
