"""PUT /v1/billing/subscription: switch the caller's plan (honours Idempotency-Key)."""

from aws_lambda_powertools.event_handler import Response

from investment_system.http import create_app, error_responses, lambda_handler
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.idempotency import IdempotencyKey, idempotent_response
from investment_system.schemas.billing import ChangePlanRequest, SubscriptionOut
from investment_system.services.subscriptions import change_plan

app = create_app()


@app.put(
    "/v1/billing/subscription",
    operation_id="changePlan",
    summary="Change your plan",
    description="A new billing period starts now; a pending cancellation is withdrawn. "
    "Asking for your current plan changes nothing else. Unknown plan: 404 PLAN_NOT_FOUND.",
    tags=["Billing"],
    security=BEARER_SECURITY,
    responses={200: {"description": "Your subscription, on the new plan"}, **error_responses(401, 403, 404, 409)},
)
def put_subscription(
    body: ChangePlanRequest, user: CurrentUser, idempotency_key: IdempotencyKey = None
) -> Response[SubscriptionOut]:
    return idempotent_response(
        user.user_id, idempotency_key, body, 200, lambda session: change_plan(session, user.user_id, body.plan)
    )


handler = lambda_handler(app)
