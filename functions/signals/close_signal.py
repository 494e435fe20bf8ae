"""POST /v1/signals/{id}/close: close an OPEN signal at an exit price."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import SIGNAL_OPERATIONS, create_app, error_responses, links
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.conditional import IfMatch, precondition
from investment_system.schemas.signals import Signal, SignalClose, SignalId
from investment_system.services.signals.lifecycle import close_signal

app = create_app(exact_decimals=True)


@app.post(
    "/v1/signals/<id>/close",
    operation_id="closeSignal",
    summary="Close an OPEN signal",
    description="Sets status CLOSED and return_pct: (exit - entry) / entry x 100 for BUY, (entry - exit) / entry x 100 "
    "for SELL, 4 fractional digits rounded half-up. 409 SIGNAL_NOT_OPEN unless OPEN.",
    tags=["Signals"],
    security=BEARER_SECURITY,
    responses={
        200: {
            "description": "The closed signal",
            "content": {"application/json": {"model": Signal}},
            "links": links(SIGNAL_OPERATIONS, id="$response.body#/id"),
        },
        **error_responses(401, 404, 409),
    },
)
def post_close(signal_id: SignalId, body: SignalClose, user: CurrentUser, if_match: IfMatch = None) -> Signal:
    return close_signal(user.user_id, signal_id, body, precondition(if_match))


handler = http_handler(app, sample=lambda _: [SampleRequest(body={"exit_price": "190.10"})])
