"""GET /v1/signals/analytics: statistics over the caller's signals, computed by the database."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.signal_analytics import SignalAnalytics
from investment_system.schemas.signals import (
    CreatedFromParam,
    CreatedToParam,
    SignalFilters,
    StrategyParam,
    SymbolParam,
)
from investment_system.services.signals.analytics_cache import cached_signal_analytics

app = create_app()


@app.get(
    "/v1/signals/analytics",
    operation_id="getSignalAnalytics",
    summary="Analytics of your signals",
    description="Over your signals matching the filters. A win is a closed signal with return_pct > 0; "
    "overdue OPEN signals count as EXPIRED. created_from after created_to: 422 INVALID_DATE_RANGE. "
    "Served from a cache for a few minutes at most; any change of your signals is in the next answer.",
    tags=["Signals"],
    security=BEARER_SECURITY,
    responses={
        200: {"description": "The statistics", "content": {"application/json": {"model": SignalAnalytics}}},
        **error_responses(401),
    },
)
def get_analytics(
    user: CurrentUser,
    symbol: SymbolParam = None,
    strategy: StrategyParam = None,
    created_from: CreatedFromParam = None,
    created_to: CreatedToParam = None,
) -> SignalAnalytics:
    filters = SignalFilters(symbol=symbol, strategy=strategy, created_from=created_from, created_to=created_to)
    return cached_signal_analytics(user.user_id, filters)


handler = http_handler(
    app, sample=lambda _: [SampleRequest(), SampleRequest(query={"created_from": "2026-01-01T00:00:00Z"})]
)
