"""GET /v1/billing/subscription: the caller's subscription (a new user is on free, ACTIVE)."""

from investment_system.entrypoints import http_handler
from investment_system.http import Response, create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.conditional import IfNoneMatch, versioned_response
from investment_system.schemas.billing import Subscription
from investment_system.services.billing.subscriptions import versioned_subscription

app = create_app()


@app.get(
    "/v1/billing/subscription",
    operation_id="getSubscription",
    summary="Your subscription",
    description="Your plan, its billing period and whether it ends at the period's end. A new user is on free, ACTIVE.",
    tags=["Billing"],
    security=BEARER_SECURITY,
    responses={
        200: {"description": "Your subscription", "content": {"application/json": {"model": Subscription}}},
        **error_responses(401, 403),
    },
)
def get_my_subscription(user: CurrentUser, if_none_match: IfNoneMatch = None) -> Response[Subscription | None]:
    return versioned_response(versioned_subscription(user.user_id), if_none_match)


handler = http_handler(app)
