"""POST /v1/billing/webhooks/payments: the payment provider's signed events."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import RateLimit, create_app, error_responses, route_facts
from investment_system.http.webhooks import SignatureHeader, SignedByPaymentProvider
from investment_system.schemas.billing import PaymentEvent, WebhookReceipt
from investment_system.services.billing.webhooks import receive_payment_event

app = create_app()


@app.post(
    "/v1/billing/webhooks/payments",
    operation_id="receivePaymentEvent",
    summary="Payment provider events (signed)",
    description=(
        "Called by the payment provider, not by users: no bearer token. The X-Signature header authenticates "
        "the raw body and is checked before the body is read (401 WEBHOOK_SIGNATURE_INVALID). "
        "invoice.paid puts the user on the paid plan with a new period (data.period_end: in the future, at most "
        "400 days away, else 422 VALIDATION_ERROR). One naming a checkout (data.checkout_id) must carry the "
        "checkout's data.amount_cents and data.currency, and no data.plan but the checkout's: it then completes "
        "the checkout if still pending and grants its plan; one that does not is acknowledged with applied "
        "false, changes nothing, and is logged and counted for an operator. A plan no checkout asked for is "
        "applied too: the provider took the payment. invoice.payment_failed makes the subscription PAST_DUE, "
        "and BILLING_GRACE_DAYS later it is back on free; subscription.canceled makes it CANCELED, on free. "
        "An event id is applied once: a redelivery, and an event of another type, is acknowledged and changes "
        "nothing (a redelivery answers as the first delivery did). invoice.paid for a plan the catalogue does "
        "not have is 404 PLAN_NOT_FOUND, so that the provider retries."
    ),
    tags=["Billing"],
    responses={200: {"description": "Received; applied says whether it took effect"}, **error_responses(401, 404)},
    # Not counted, and not stopped by maintenance: what the provider was paid is applied whatever happens.
    openapi_extensions=route_facts(rate_limit=RateLimit.NONE, changes_data=False),
)
def post_payment_event(event: PaymentEvent, signature: SignatureHeader, _: SignedByPaymentProvider) -> WebhookReceipt:
    return receive_payment_event(event)


handler = http_handler(app, sample=lambda world: [SampleRequest(**world.signed_payment_event("invoice.paid"))])
