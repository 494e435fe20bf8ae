"""POST /v1/billing/webhooks/payments: the payment provider's signed events."""

from investment_system.http import create_app, error_responses, lambda_handler
from investment_system.schemas.billing import WebhookReceipt
from investment_system.services.webhooks import SIGNATURE_HEADER, raw_body, receive_payment_event

app = create_app()


@app.post(
    "/v1/billing/webhooks/payments",
    summary="Payment provider events (signed)",
    description=(
        "No bearer token: the body is authenticated by `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256"
        '(secret, "<t>.<raw body>")>`, within 300 s of now (401 WEBHOOK_SIGNATURE_INVALID), checked '
        'before the body is read. Body: `{"id", "type": "invoice.paid"|"invoice.payment_failed"|'
        '"subscription.canceled", "data": {"user_id", "plan"?, "period_end"?}}`. '
        "An event id is applied once; a redelivery, and an event of another type, is acknowledged "
        "and changes nothing."
    ),
    tags=["Billing"],
    responses={200: {"description": "Received"}, **error_responses(401, 404)},
)
def post_payment_event() -> WebhookReceipt:
    event = app.current_event
    return receive_payment_event(raw_body(event.body, event.is_base64_encoded), event.headers.get(SIGNATURE_HEADER))


handler = lambda_handler(app)
