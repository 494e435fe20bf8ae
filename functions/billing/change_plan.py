"""PUT /v1/billing/subscription: buy a dearer plan (a checkout), or schedule a cheaper one (honours Idempotency-Key)."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import Response, create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.idempotency import IdempotencyKey, idempotent_response
from investment_system.schemas.billing import CheckoutStarted, Subscription, SubscriptionChange
from investment_system.services.billing.subscriptions import change_plan

app = create_app()


@app.put(
    "/v1/billing/subscription",
    operation_id="changePlan",
    summary="Change your plan",
    description="A paid plan is never granted without payment. A dearer plan: 202 with a pending checkout "
    "(24 h; a newer one replaces it), and nothing else changes until the payment provider confirms the "
    "payment (invoice.paid naming the checkout). A cheaper plan, free included: scheduled for the end of the "
    "current period, your plan and its quotas hold until then. Your current plan: a scheduled change or "
    "cancellation is dropped. Unknown plan: 404 PLAN_NOT_FOUND.",
    tags=["Billing"],
    security=BEARER_SECURITY,
    responses={
        200: {
            "description": "Your subscription: the change is scheduled, or what was scheduled is dropped",
            "content": {"application/json": {"model": Subscription}},
        },
        202: {
            "description": "A checkout to pay; your subscription is unchanged",
            "content": {"application/json": {"model": CheckoutStarted}},
        },
        **error_responses(401, 403, 404, 409),
    },
)
def put_subscription(
    body: SubscriptionChange, user: CurrentUser, idempotency_key: IdempotencyKey = None
) -> Response[Subscription | CheckoutStarted]:
    return idempotent_response(
        idempotency_key, body, {Subscription: 200, CheckoutStarted: 202}, change_plan, user.user_id, body.plan
    )


handler = http_handler(
    app, sample=lambda _: [SampleRequest(body={"plan": "pro"}, headers={"Idempotency-Key": "sample"})]
)
