"""POST /v1/stream/tickets: a single-use ticket to open the real-time stream with."""

from investment_system.entrypoints import http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.stream import StreamTicket
from investment_system.services.stream.connections import issue_ticket

app = create_app()


@app.post(
    "/v1/stream/tickets",
    operation_id="createStreamTicket",
    summary="Get a ticket for the real-time stream",
    description="Connect within 60 s with wss://…/v1/stream?ticket=<ticket>, adding &last_event_id=<id> to be "
    "sent first the events after it (at most 100, oldest first). The ticket works once, so that no long-lived "
    "token goes into a URL or an access log. The stream sends one JSON frame per change to your signals "
    '(signal.created, signal.updated, signal.closed, signal.expired, signal.deleted: {"type", "id", "at", '
    '"data": Signal}) and subscription (subscription.changed, data: Subscription); event ids increase per user. '
    'Send {"action": "ping"} to get {"type": "pong"}; any other flat JSON object gets {"type": "error", "code": '
    '"UNSUPPORTED_MESSAGE", "message"}, and a message over 4 KiB, not JSON, not one object, or with an object or '
    "array as a value gets MALFORMED_MESSAGE. At most 10 messages a second per connection: more get "
    "RATE_LIMIT_EXCEEDED error frames, and a connection refused more than 10 times within a minute is closed "
    "(code 1008). "
    "At most 5 connections stay open per user (the oldest is closed, code 4008); an idle one closes after 10 min, "
    "any after 2 h. The ticket and its connection belong to your session: when it ends (logout, password change, "
    "role change, deactivation, refresh-token reuse), unused tickets are refused and the connection gets an error "
    "frame (TOKEN_REVOKED or ACCOUNT_DISABLED) and is closed (code 4001).",
    tags=["Stream"],
    security=BEARER_SECURITY,
    status_code=201,
    responses={
        201: {"description": "The ticket", "content": {"application/json": {"model": StreamTicket}}},
        **error_responses(401),
    },
)
def post_ticket(user: CurrentUser) -> StreamTicket:
    return issue_ticket(user.user_id, user.session_id)


handler = http_handler(app)
