"""What every benchmark process runs with: settings, databases, the sample events, silenced stdout."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from invest_dev.template import FunctionSpec

SERVER_URLS = {
    "postgres": os.environ.get("BENCH_POSTGRES_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}


def bench_environment(database_url: str) -> dict[str, str]:
    """Settings of every benchmark process: development mode with production-like costs."""
    return {
        "ENVIRONMENT": "dev",
        "DATABASE_URL": database_url,
        "TRACING_ENABLED": "false",
        "LOG_LEVEL": "INFO",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as template.yaml's Globals set it
        # Cold starts run the limiter (memory backend, never refusing). The warm loop in this process
        # runs without it: a plan's requests_per_minute would refuse most of its 1000 requests.
        "RATE_LIMIT_ENABLED": "false",
        "RATE_LIMIT_BACKEND": "memory",
        "RATE_LIMIT_ANONYMOUS_PER_MINUTE": str(10**9),
    }


COLD_START_ENVIRONMENT = {"RATE_LIMIT_ENABLED": "true"}


@contextlib.contextmanager
def scratch_database(backend: str = "sqlite") -> Iterator[Any]:
    """A migrated, empty database of its own on `backend` (sqlite, postgres, mysql), installed as the
    container's engine inside the block and dropped after it. Yields the engine."""
    from invest_dev.scratch_db import create_database, drop_database
    from investment_system.db import engine as db_engine
    from investment_system.db.migrate import upgrade
    from investment_system.settings import DatabaseSettings

    with tempfile.TemporaryDirectory(prefix="invest-bench-db-") as scratch:
        name = f"invest_bench_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            url = f"sqlite:///{Path(scratch, name + '.db')}"
        else:
            url = create_database(SERVER_URLS[backend], name)
        engine = db_engine.build_engine(DatabaseSettings(url=url))
        try:
            upgrade(engine)
            db_engine.use_engine(engine)
            yield engine
        finally:
            db_engine.use_engine(None)
            engine.dispose()
            if backend != "sqlite":
                drop_database(SERVER_URLS[backend], url)


def on_enterprise_plan(user_id: uuid.UUID) -> None:
    """Put the sample user on the largest plan, so the warm loop of POST /v1/signals times creating
    signals rather than the daily quota's 429 (free allows 10 a day, enterprise 10 000): a checkout,
    and the provider's invoice.paid for it, as the webhook applies it."""
    from investment_system.schemas.billing import CheckoutStarted, PaymentEvent
    from investment_system.services.billing.subscriptions import change_plan
    from investment_system.services.billing.webhooks import receive_payment_event

    started = change_plan(None, user_id, "enterprise")
    assert isinstance(started, CheckoutStarted)
    checkout = started.checkout
    # Paid in full: the checkout's amount, in its currency.
    data: dict[str, Any] = {"user_id": str(user_id), "checkout_id": str(checkout.id)}
    data |= {"amount_cents": checkout.amount_cents, "currency": checkout.currency}
    receive_payment_event(PaymentEvent(id=f"evt_bench_{uuid.uuid4().hex}", type="invoice.paid", data=data))


# Functions whose whole work is calls to AWS services that neither the bench nor sam local has, with what
# covers them instead; neither measures nor invokes them.
NEEDS_AWS = {
    "PreTrafficCheckFunction": "a CodeDeploy hook: it invokes published versions and reports to CodeDeploy "
    "(tests/system/test_deployment_checks.py answers both)",
}


def has_sample_event(spec: FunctionSpec) -> bool:
    from invest_dev.samples import event_path

    return spec.name not in NEEDS_AWS and (event_path(spec).is_file() or not spec.routes)


def sample_event(spec: FunctionSpec, users: Any) -> Any:
    """The function's event from events/ with a fresh token; `{}` for a function without HTTP routes
    and without an event file."""
    from invest_dev.samples import event_path, load_event, with_fresh_token

    if not event_path(spec).is_file() and not spec.routes:
        return {}
    return with_fresh_token(load_event(spec), users)


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Send file descriptor 1 (logs, EMF) to /dev/null; loggers keep writing, as in Lambda."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
