"""DELETE /v1/billing/subscription: cancel the caller's subscription at the end of the period."""

from investment_system.entrypoints import http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.billing import Subscription
from investment_system.services.billing.subscriptions import cancel_at_period_end

app = create_app()


@app.delete(
    "/v1/billing/subscription",
    operation_id="cancelSubscription",
    summary="Cancel your subscription at the end of the period",
    description="The plan stays until current_period_end; then the subscription is CANCELED, on free. "
    "It replaces a scheduled change of plan; choosing your current plan again withdraws it.",
    tags=["Billing"],
    security=BEARER_SECURITY,
    responses={200: {"description": "Your subscription, with cancel_at_period_end: true"}, **error_responses(401, 403)},
)
def delete_subscription(user: CurrentUser) -> Subscription:
    return cancel_at_period_end(user.user_id)


handler = http_handler(app)
