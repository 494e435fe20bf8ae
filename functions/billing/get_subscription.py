"""GET /v1/billing/subscription: the caller's subscription (a new user is on free, ACTIVE)."""

from investment_system.entrypoints import http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.billing import SubscriptionOut
from investment_system.services.billing.subscriptions import get_subscription

app = create_app()


@app.get(
    "/v1/billing/subscription",
    operation_id="getSubscription",
    summary="Your subscription",
    description="Your plan, its billing period and whether it ends at the period's end. A new user is on free, ACTIVE.",
    tags=["Billing"],
    security=BEARER_SECURITY,
    responses={200: {"description": "Your subscription"}, **error_responses(401, 403)},
)
def get_my_subscription(user: CurrentUser) -> SubscriptionOut:
    return get_subscription(user.user_id)


handler = http_handler(app)
