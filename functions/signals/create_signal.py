"""POST /v1/signals: create a signal for the caller."""

from investment_system.db import unit_of_work
from investment_system.http import create_app, error_responses, lambda_handler
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.signals import SignalCreate, SignalOut
from investment_system.services.signals import create_signal

app = create_app(exact_decimals=True)


@app.post(
    "/v1/signals",
    summary="Create a signal",
    description="BUY needs stop_loss < entry_price < target_price, SELL the reverse (422 INVALID_SIGNAL_LEVELS); "
    "expires_at, when given, lies in the future (422 EXPIRY_IN_PAST).",
    tags=["Signals"],
    security=BEARER_SECURITY,
    status_code=201,
    responses={
        201: {"description": "The new signal, OPEN", "content": {"application/json": {"model": SignalOut}}},
        **error_responses(401),
    },
)
def post_signal(body: SignalCreate, user: CurrentUser) -> SignalOut:
    with unit_of_work() as session:
        return create_signal(session, user.user_id, body)


handler = lambda_handler(app)
