"""GET /v1/signals/{id}/history: every change of one of the caller's signals, oldest first."""

from investment_system.entrypoints import http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.signals import SignalHistory, SignalId
from investment_system.services.signals.history import signal_history

app = create_app()


@app.get(
    "/v1/signals/<id>/history",
    operation_id="getSignalHistory",
    summary="History of one of your signals",
    description="Every change, oldest first: the action, the changed fields' old and new values, who made it "
    "(null for the expiry job) and the request's correlation ID.",
    tags=["Signals"],
    security=BEARER_SECURITY,
    responses={
        200: {"description": "Its changes, oldest first", "content": {"application/json": {"model": SignalHistory}}},
        **error_responses(401, 404),
    },
)
def get_history(signal_id: SignalId, user: CurrentUser) -> SignalHistory:
    return signal_history(user.user_id, signal_id)


handler = http_handler(app)
