"""POST /v1/signals: create a signal for the caller."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import SIGNAL_OPERATIONS, Response, create_app, error_responses, links
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.idempotency import IdempotencyKey, idempotent_response
from investment_system.schemas.signals import Signal, SignalCreate
from investment_system.services.signals.quota import create_signal_within_quota

app = create_app(exact_decimals=True)


@app.post(
    "/v1/signals",
    operation_id="createSignal",
    summary="Create a signal",
    description="BUY needs stop_loss < entry_price < target_price, SELL the reverse (422 INVALID_SIGNAL_LEVELS); "
    "expires_at, when given, lies in the future (422 EXPIRY_IN_PAST). Counts against your plan's daily quota "
    "(429 QUOTA_EXCEEDED, Retry-After the next UTC midnight).",
    tags=["Signals"],
    security=BEARER_SECURITY,
    status_code=201,
    responses={
        201: {
            "description": "The new signal, OPEN",
            "content": {"application/json": {"model": Signal}},
            "links": links(SIGNAL_OPERATIONS, id="$response.body#/id"),
        },
        **error_responses(401, 409),
    },
)
def post_signal(body: SignalCreate, user: CurrentUser, idempotency_key: IdempotencyKey = None) -> Response[Signal]:
    return idempotent_response(idempotency_key, body, 201, create_signal_within_quota, user.user_id, body)


# With a key and without: the create's statement differs by the key's completion (both are compiled before a snapshot).
handler = http_handler(
    app,
    sample=lambda world: [
        SampleRequest(body=world.signal_body),
        SampleRequest(body=world.signal_body, headers={"Idempotency-Key": "sample"}),
    ],
)
