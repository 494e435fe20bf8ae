"""GET /v1/signals/{id}: one of the caller's signals."""

from investment_system.entrypoints import http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.signals import SignalId, SignalOut
from investment_system.services.signals.reads import get_signal

app = create_app()


@app.get(
    "/v1/signals/<id>",
    operation_id="getSignal",
    summary="Get one of your signals",
    description="Another user's signal, a deleted one and an id that is no UUID are all 404 SIGNAL_NOT_FOUND.",
    tags=["Signals"],
    security=BEARER_SECURITY,
    responses={
        200: {"description": "The signal", "content": {"application/json": {"model": SignalOut}}},
        **error_responses(401, 404),
    },
)
def get_one_signal(signal_id: SignalId, user: CurrentUser) -> SignalOut:
    return get_signal(user.user_id, signal_id)


handler = http_handler(app)
