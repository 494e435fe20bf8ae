"""GET /v1/signals: a page of the caller's signals, newest first."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import SIGNAL_OPERATIONS, create_app, error_responses, links
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas import DEFAULT_LIMIT
from investment_system.schemas.signals import (
    CreatedFromParam,
    CreatedToParam,
    CursorParam,
    DirectionParam,
    LimitParam,
    SignalListQuery,
    SignalPage,
    StatusParam,
    StrategyParam,
    SymbolParam,
)
from investment_system.services.signals.reads import list_signals

app = create_app()


@app.get(
    "/v1/signals",
    operation_id="listSignals",
    summary="List your signals",
    description="Newest first; pass next_cursor as cursor for the next page (400 INVALID_CURSOR when it was altered). "
    "created_from after created_to: 422 INVALID_DATE_RANGE.",
    tags=["Signals"],
    security=BEARER_SECURITY,
    responses={
        200: {
            "description": "A page of signals",
            "content": {"application/json": {"model": SignalPage}},
            "links": links(SIGNAL_OPERATIONS, id="$response.body#/items/0/id"),
        },
        **error_responses(401),
    },
)
def get_signals(
    user: CurrentUser,
    symbol: SymbolParam = None,
    direction: DirectionParam = None,
    status: StatusParam = None,
    strategy: StrategyParam = None,
    created_from: CreatedFromParam = None,
    created_to: CreatedToParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> SignalPage:
    query = SignalListQuery(
        symbol=symbol,
        direction=direction,
        status=status,
        strategy=strategy,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )
    return list_signals(user.user_id, query)


# Each combination of filters is a statement of its own: the replay before a SnapStart snapshot answers
# the unfiltered page and these.
_FILTERED = ({"symbol": "AAPL", "status": "OPEN"}, {"direction": "SELL"})
handler = http_handler(app, sample=lambda _: [SampleRequest(), *(SampleRequest(query=query) for query in _FILTERED)])
