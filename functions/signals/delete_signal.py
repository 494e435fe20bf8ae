"""DELETE /v1/signals/{id}: remove a signal from its owner's view (kept for audit)."""

from investment_system.entrypoints import http_handler
from investment_system.http import Response, create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.conditional import IfMatch, precondition
from investment_system.schemas.signals import SignalId
from investment_system.services.signals.lifecycle import delete_signal

app = create_app()


@app.delete(
    "/v1/signals/<id>",
    operation_id="deleteSignal",
    summary="Delete one of your signals",
    description="Afterwards the signal answers 404 SIGNAL_NOT_FOUND; the row and its history stay for audit.",
    tags=["Signals"],
    security=BEARER_SECURITY,
    responses={204: {"description": "Deleted", "content": {}}, **error_responses(401, 404)},
)
def delete_one_signal(signal_id: SignalId, user: CurrentUser, if_match: IfMatch = None) -> Response[None]:
    delete_signal(user.user_id, signal_id, precondition(if_match))
    return Response(status_code=204, body=None)


handler = http_handler(app)
