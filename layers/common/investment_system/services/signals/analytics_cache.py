"""GET /v1/signals/analytics through a cache: a user's answer is kept, per filters, on the rate limiter's
backend (repositories/signals/analytics_cache.py) for ANALYTICS_CACHE_TTL_SECONDS at most.

An entry holds the answer and the user's outbox position read in the same statement, so in the same
snapshot: the answer is exactly that of the position. Every change of a signal adds the user's next
stream event in its own transaction, moving the position on. With an entry kept, a request reads the
position, and the statistics only when it has moved: once a change is committed, the next read
computes, and a user always reads their own writes. An entry also
ends when the first OPEN signal it counts reaches its expiry. A store that fails is a miss, never an error.
"""

import hashlib
import json
import uuid
from datetime import datetime
from functools import cache

from pydantic import BaseModel, ValidationError

from investment_system.db import read_only
from investment_system.db.base import utcnow
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.signals.analytics_cache import CacheStore, build_cache
from investment_system.schemas.signal_analytics import SignalAnalytics
from investment_system.schemas.signals import SignalFilters
from investment_system.services.signals.analytics import statistics_unless_at
from investment_system.services.signals.reads import check_date_range
from investment_system.settings import RateLimitSettings, get_settings


def analytics_store() -> CacheStore:
    """The container's store, on the rate limiter's backend as the settings name it now (a SnapStart
    replay runs under other settings: its store is not the one a restored container uses)."""
    return _store_for(get_settings().rate_limit)


@cache
def _store_for(settings: RateLimitSettings) -> CacheStore:
    return build_cache(settings)


class _Entry(BaseModel):
    outbox_position: int
    analytics: SignalAnalytics


def cached_signal_analytics(user_id: uuid.UUID, filters: SignalFilters) -> SignalAnalytics:
    check_date_range(filters.created_from, filters.created_to)
    ttl = get_settings().cache.analytics_ttl_seconds
    key = _key(user_id, filters) if ttl else ""
    kept = _get(key) if key else None
    now = utcnow()
    with read_only() as session:
        statistics = statistics_unless_at(session, user_id, filters, now, kept.outbox_position if kept else None)
    if statistics is None:
        assert kept is not None  # nothing computed only when the user's outbox is still at the entry's position
        add_metric(MetricName.ANALYTICS_CACHE_HITS)
        return kept.analytics
    if key:
        add_metric(MetricName.ANALYTICS_CACHE_MISSES)
        lifetime = _lifetime(ttl, now, statistics.next_expiry)
        if lifetime > 0:
            _put(key, _Entry(outbox_position=statistics.outbox_position, analytics=statistics.analytics), lifetime)
    return statistics.analytics


def _key(user_id: uuid.UUID, filters: SignalFilters) -> str:
    # The layer's version too: another release may compute or shape the answer differently.
    asked = json.dumps([filters.symbol, filters.strategy, _instant(filters.created_from), _instant(filters.created_to)])
    digest = hashlib.sha256(asked.encode()).hexdigest()[:32]
    return f"analytics:{get_settings().version}:{user_id}:{digest}"


def _instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _lifetime(ttl: int, now: datetime, next_expiry: datetime | None) -> int:
    """Whole seconds the answer holds: the setting's, unless an OPEN signal expires (and counts as
    EXPIRED) sooner."""
    if next_expiry is None:
        return ttl
    return min(ttl, int((next_expiry - now).total_seconds()))


def _get(key: str) -> _Entry | None:
    store = analytics_store()
    try:
        text = store.get(key)
    except Exception as error:  # any failure of the store is a miss
        _unavailable(store, error)
        return None
    if text is None:
        return None
    try:
        return _Entry.model_validate_json(text)
    except ValidationError:  # not an entry of this shape: computed again, and replaced
        return None


def _put(key: str, entry: _Entry, seconds: int) -> None:
    store = analytics_store()
    try:
        store.put(key, entry.model_dump_json(), seconds)
    except Exception as error:
        _unavailable(store, error)


def _unavailable(store: CacheStore, error: Exception) -> None:
    add_metric(MetricName.ANALYTICS_CACHE_UNAVAILABLE)
    logger.warning("Analytics cache unavailable", extra={"backend": store.name, "error_type": type(error).__name__})
