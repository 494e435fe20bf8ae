"""The payment provider's webhook at the HTTP edge: its signature is the route's authentication.

    @app.post("/v1/billing/webhooks/payments")
    def post_payment_event(event: PaymentEvent, signature: SignatureHeader, _: SignedByPaymentProvider): ...

`SignedByPaymentProvider` checks X-Signature against the raw body as an authentication dependency
(http/auth.py), so it runs before Powertools parses and validates the body: an unsigned or tampered
delivery is 401 WEBHOOK_SIGNATURE_INVALID whatever it contains. `SignatureHeader` declares the header
for the OpenAPI document; by the time Powertools validates it, the check above has passed.
"""

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Request
from aws_lambda_powertools.event_handler.openapi.params import Header

from investment_system.http.auth import authentication
from investment_system.services.billing.webhooks import SIGNATURE_HEADER, raw_body, verify_delivery


@authentication
def signed_by_payment_provider(request: Request) -> None:
    """Passes when the request's X-Signature signs its raw body; 401 WEBHOOK_SIGNATURE_INVALID otherwise."""
    event = request.resolved_event
    verify_delivery(raw_body(event.body, bool(event.is_base64_encoded)), event.headers.get(SIGNATURE_HEADER))


SignedByPaymentProvider = Annotated[None, Depends(signed_by_payment_provider)]
SignatureHeader = Annotated[
    str,
    Header(
        alias=SIGNATURE_HEADER,
        description='`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, within '
        "WEBHOOK_TOLERANCE_SECONDS (300 by default) of now; several v1 entries are accepted while the secret "
        "rotates. Missing, stale or not matching the body: 401 WEBHOOK_SIGNATURE_INVALID.",
        examples=["t=1795687200,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"],
    ),
]
