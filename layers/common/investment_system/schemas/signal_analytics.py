"""GET /v1/signals/analytics's response: apart from the other signal schemas, which no analytics need."""

from datetime import date

from pydantic import Field

from investment_system.schemas import ALWAYS_SENT, ApiModel
from investment_system.schemas.signals import Ratio, ReturnPct


class StatusCounts(ApiModel):
    model_config = ALWAYS_SENT

    OPEN: int = 0
    CLOSED: int = 0
    EXPIRED: int = 0


class DirectionCounts(ApiModel):
    model_config = ALWAYS_SENT

    BUY: int = 0
    SELL: int = 0


class ClosedStats(ApiModel):
    count: int
    wins: int = Field(description="Closed with return_pct > 0.")
    losses: int = Field(description="Closed with return_pct < 0.")
    win_rate: Ratio | None = Field(description="wins / count; null when none closed.")
    average_return_pct: ReturnPct | None
    best_return_pct: ReturnPct | None
    worst_return_pct: ReturnPct | None


class SymbolStats(ApiModel):
    symbol: str
    total: int
    closed: int
    win_rate: Ratio | None
    average_return_pct: ReturnPct | None


class DailyCounts(ApiModel):
    date: date
    created: int = Field(description="Signals created that UTC day.")
    closed: int = Field(description="Of the signals in scope, those closed that UTC day.")


class SignalAnalytics(ApiModel):
    total: int
    by_status: StatusCounts
    by_direction: DirectionCounts
    average_confidence: Ratio | None
    closed: ClosedStats
    by_symbol: list[SymbolStats] = Field(description="Most signals first.")
    daily: list[DailyCounts] = Field(description="Oldest day first; days with no activity are left out.")
