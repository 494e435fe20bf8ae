"""PATCH /v1/signals/{id}: change an OPEN signal's levels, notes or expiry."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import SIGNAL_OPERATIONS, create_app, error_responses, links
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.conditional import IfMatch, precondition
from investment_system.schemas.signals import Signal, SignalId, SignalUpdate
from investment_system.services.signals.lifecycle import update_signal

app = create_app(exact_decimals=True)


@app.patch(
    "/v1/signals/<id>",
    operation_id="updateSignal",
    summary="Update an OPEN signal",
    description="Only while OPEN (409 SIGNAL_NOT_OPEN); the levels are checked again (422 INVALID_SIGNAL_LEVELS).",
    tags=["Signals"],
    security=BEARER_SECURITY,
    responses={
        200: {
            "description": "The updated signal",
            "content": {"application/json": {"model": Signal}},
            "links": links(SIGNAL_OPERATIONS, id="$response.body#/id"),
        },
        **error_responses(401, 404, 409),
    },
)
def patch_signal(signal_id: SignalId, body: SignalUpdate, user: CurrentUser, if_match: IfMatch = None) -> Signal:
    return update_signal(user.user_id, signal_id, body, precondition(if_match))


handler = http_handler(
    app, sample=lambda _: [SampleRequest(body={"target_price": "205", "notes": "Raised target after guidance"})]
)
