"""GET /v1/signals/{id}: one of the caller's signals."""

from investment_system.entrypoints import http_handler
from investment_system.http import CONDITIONAL_CHANGES, SIGNAL_OPERATIONS, Response, create_app, error_responses, links
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.conditional import IfNoneMatch, versioned_response
from investment_system.schemas.signals import Signal, SignalId
from investment_system.services.signals.reads import versioned_signal

app = create_app()


@app.get(
    "/v1/signals/<id>",
    operation_id="getSignal",
    summary="Get one of your signals",
    description="Another user's signal, a deleted one and an id that is no UUID are all 404 SIGNAL_NOT_FOUND.",
    tags=["Signals"],
    security=BEARER_SECURITY,
    responses={
        200: {
            "description": "The signal",
            "content": {"application/json": {"model": Signal}},
            # The changes it links to are conditional on the version read (If-Match: its ETag).
            "links": {
                **links(SIGNAL_OPERATIONS, id="$response.body#/id"),
                **links(CONDITIONAL_CHANGES, id="$response.body#/id", headers={"If-Match": "$response.header.ETag"}),
            },
        },
        **error_responses(401, 404),
    },
)
def get_one_signal(
    signal_id: SignalId, user: CurrentUser, if_none_match: IfNoneMatch = None
) -> Response[Signal | None]:
    return versioned_response(versioned_signal(user.user_id, signal_id), if_none_match)


handler = http_handler(app)
