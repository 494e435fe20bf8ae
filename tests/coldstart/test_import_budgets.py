"""Import budgets: each function loads only its slice of the layer, and no heavy module it does not use.

A cold start pays for every module a function imports, so what each may import is written down here.
Each function is imported in a fresh interpreter, as Lambda does, and its SnapStart priming is run
(priming imports what the function's first request would, and must never connect: the database file
of the probe must not exist afterwards). A function that loads a module outside its budget fails with
the module's name and why it is kept out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from invest_dev.template import FunctionSpec, functions

# Runs in a fresh interpreter: import the function's module, run the before-snapshot hooks, report.
_PROBE = """
import importlib.util, json, sys
source, result = sys.argv[1:3]
spec = importlib.util.spec_from_file_location("function_under_test", source)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
import gc
collecting, frozen = gc.isenabled(), gc.get_freeze_count()
from snapshot_restore_py import get_before_snapshot
for hook, args, kwargs in get_before_snapshot():
    hook(*args, **kwargs)
with open(result, "w") as handle:
    json.dump({"modules": sorted(sys.modules), "collecting": collecting, "frozen": frozen}, handle)
"""

# Heavy modules, each with the functions that may load it and why the others must not.
HEAVY: dict[str, tuple[set[str], str]] = {
    "alembic": ({"MigrateFunction"}, "the migrations run in MigrateFunction only"),
    "investment_system.services.accounts.passwords": (
        {"LoginFunction", "RegisterFunction", "ChangePasswordFunction", "PreTrafficCheckFunction"},
        "argon2 and bcrypt: only the functions that check or set a password load them (the deploy check makes "
        "its account)",
    ),
    "argon2": (
        {"LoginFunction", "RegisterFunction", "ChangePasswordFunction", "PreTrafficCheckFunction"},
        "password hashing",
    ),
    "email_validator": (
        {"LoginFunction", "RegisterFunction", "ChangePasswordFunction"},
        "email-validator and dnspython: only requests that carry an email address need them",
    ),
    "boto3": (set(), "the AWS SDK: no function calls AWS in this configuration (no secrets ARN, no stream API)"),
    "redis": (set(), "the Redis client: the rate limiter's backend here is memory"),
    "aws_xray_sdk": (set(), "the X-Ray SDK: tracing is off"),
    # What the packages investment_system.lazy_packages defers would load with their __init__.
    "aws_lambda_powertools.event_handler.appsync": (set(), "another resolver (and asyncio): lazy_packages.py"),
    "aws_lambda_powertools.event_handler.openapi.models": (
        set(),
        "the OpenAPI models (swagger_ui's OAuth2 page): the document is bundled, lazy_packages.py",
    ),
    "aws_lambda_powertools.utilities.data_classes.sqs_event": (set(), "another service's events: lazy_packages.py"),
    "jwt.jwks_client": (set(), "PyJWT's JWKS client (urllib, http.client): lazy_packages.py"),
    # Alembic's DDL implementations import every dialect: the migrations may.
    "sqlalchemy.dialects.postgresql": ({"MigrateFunction"}, "another database's dialect: the database here is SQLite"),
    "sqlalchemy.dialects.mysql": ({"MigrateFunction"}, "another database's dialect: the database here is SQLite"),
}
# Functions that need no database load no SQLAlchemy at all (the plans: their released copy, plans.json);
# health pings over a plain connection.
NO_DATABASE = {"DocsFunction", "NotFoundFunction", "ListPlansFunction"}
NO_ORM = NO_DATABASE | {"HealthFunction"}
# Routes without parameters, body or token are not validated: Powertools' validation, its OpenAPI
# parameter module and the token check are not loaded.
UNVALIDATED = (NO_ORM | {"MigrateFunction"}) - {"ListPlansFunction"}
VALIDATION = (
    "aws_lambda_powertools.event_handler.middlewares.openapi_validation",
    "aws_lambda_powertools.event_handler.openapi.params",
    "investment_system.http.auth",
)

# The ORM models each function maps (investment_system.models.<module>): its slice of the tables.
# Every authenticated function reads the user and the token's session (services/accounts/authentication.py).
_CALLER = {"users", "sessions"}
# The plan in force (services/billing/plan_terms.py: a token's rpm claim, the usage): the billing tables, nothing that
# changes them.
_PLAN = _CALLER | {"billing"}
# A subscription's read or change (services/billing/subscriptions.py): its checkouts, and for a change its audit
# trail and stream event.
_SUBSCRIPTION = _PLAN | {"checkouts", "audit", "stream"}
# The stream's tables: its tickets and connections name the session they belong to.
_STREAM = {"users", "sessions", "stream"}
# Issuing, rotating and ending refresh tokens (services/accounts/login_sessions.py and revocation.py); a
# session's end is its stream's too (its tickets and connections).
_TOKENS = {"refresh_tokens", "stream"}
MODELS: dict[str, set[str]] = {
    "AdminListUsersFunction": _CALLER,
    "AdminUpdateUserFunction": _CALLER | _TOKENS | {"audit"},
    "ApplySubscriptionChangesFunction": _STREAM | {"billing", "checkouts", "audit"},
    "CancelSubscriptionFunction": _SUBSCRIPTION,
    "ChangePasswordFunction": _PLAN | _TOKENS | {"audit"},
    "ChangePlanFunction": _SUBSCRIPTION | {"idempotency"},
    "CloseSignalFunction": _CALLER | {"signals", "audit", "stream"},
    "CreateSignalFunction": _PLAN | {"signals", "usage", "audit", "stream", "idempotency"},
    "CreateStreamTicketFunction": _CALLER | {"stream"},
    "DeleteSignalFunction": _CALLER | {"signals", "audit", "stream"},
    "ExpireSignalsFunction": _STREAM | {"signals", "audit"},
    "GetMeFunction": _CALLER,
    "GetSignalAnalyticsFunction": _CALLER | {"signals", "stream"},  # the outbox position keys its cache
    "GetSignalFunction": _CALLER | {"signals"},
    "GetSignalHistoryFunction": _CALLER | {"signals", "audit"},
    "GetSubscriptionFunction": _SUBSCRIPTION,
    "GetUsageFunction": _PLAN | {"usage"},
    "HousekeepingFunction": {"users", "sessions", "refresh_tokens", "checkouts", "idempotency", "payments", "stream"},
    "ListSignalsFunction": _CALLER | {"signals"},
    # The migrations compare the schema with every table's model.
    "MigrateFunction": _SUBSCRIPTION | _TOKENS | {"signals", "usage", "payments", "idempotency"},
    "LoginFunction": _PLAN | _TOKENS | {"audit"},
    "LogoutFunction": _CALLER | _TOKENS,
    "PaymentWebhookFunction": _SUBSCRIPTION | {"payments"},
    # The deploy's check makes its account and a session, as a sign-up and a login do (accounts/deploy_check.py).
    "PreTrafficCheckFunction": _PLAN | _TOKENS | {"audit"},
    "RefreshTokenFunction": _PLAN | _TOKENS,
    "RegisterFunction": _PLAN | _TOKENS | {"audit"},
    "StreamConnectFunction": _STREAM,
    "StreamDeliveryFunction": _STREAM,
    "StreamDisconnectFunction": _STREAM,
    "StreamMessageFunction": _STREAM,
    "UpdateMeFunction": _CALLER | {"audit"},
    "UpdateSignalFunction": _CALLER | {"signals", "audit", "stream"},
}


def _probe(spec: FunctionSpec) -> tuple[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="invest-budget-") as scratch:
        database = Path(scratch, "never-connected.db")
        env = {
            **os.environ,
            "ENVIRONMENT": "test",
            "DATABASE_URL": f"sqlite:///{database}",
            "RATE_LIMIT_BACKEND": "memory",
            "TRACING_ENABLED": "false",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        }
        result = Path(scratch, "modules.json")
        subprocess.run(
            [sys.executable, "-c", _PROBE, str(spec.source), str(result)], env=env, cwd=spec.code_uri, check=True
        )
        probe = json.loads(result.read_text())
        return spec.name, {**probe, "modules": set(probe["modules"]), "connected": database.exists()}


@pytest.fixture(scope="module")
def loaded() -> dict[str, dict[str, Any]]:
    """What each function of the template loads once imported and primed, in a fresh interpreter each."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(pool.map(_probe, functions()))


def test_every_function_has_a_budget():
    assert {spec.name for spec in functions()} == set(MODELS) | NO_ORM


@pytest.mark.parametrize("name", sorted(spec.name for spec in functions()))
def test_a_function_loads_only_its_slice(loaded, name):
    # Given the function imported in a fresh interpreter and primed for a SnapStart snapshot
    modules, connected = loaded[name]["modules"], loaded[name]["connected"]
    # Then priming opened no connection
    assert not connected, f"{name}: priming connected to the database"
    # And it loads no heavy module outside its budget
    over = [
        f"{module} ({why})" for module, (allowed, why) in HEAVY.items() if module in modules and name not in allowed
    ]
    if name in NO_DATABASE:
        over += ["sqlalchemy (it needs no database)"] if "sqlalchemy" in modules else []
    if name in NO_ORM:
        over += ["sqlalchemy.orm (it maps no table)"] if "sqlalchemy.orm" in modules else []
    if name in UNVALIDATED:
        over += [f"{module} (nothing to validate)" for module in VALIDATION if module in modules]
    assert over == [], f"{name} loads modules outside its budget: " + "; ".join(over)
    # And it maps exactly the tables of its slice
    models = {module.rsplit(".", 1)[1] for module in modules if module.startswith("investment_system.models.")}
    assert models == MODELS.get(name, set()), (
        f"{name} maps {sorted(models)}, its slice is {sorted(MODELS.get(name, set()))}"
    )


@pytest.mark.parametrize("name", sorted(spec.name for spec in functions()))
def test_a_functions_init_ends_with_its_objects_frozen_and_collection_back_on(loaded, name):
    # Given the function imported in a fresh interpreter of a Lambda container (init_phase.py)
    probe = loaded[name]
    # Then once its module is loaded the collector runs again, and never scans what init made
    assert probe["collecting"], f"{name}: garbage collection is still off after init (call end_of_init)"
    assert probe["frozen"] > 10_000, f"{name}: init's objects were not frozen ({probe['frozen']})"


def test_no_module_of_models_postpones_its_annotations():
    # Given every module of the layer that defines pydantic models or SQLAlchemy mapped classes
    import __future__

    import importlib
    import inspect
    import pkgutil

    from pydantic import BaseModel
    from sqlalchemy.orm import DeclarativeBase

    import investment_system

    def defines_models(module: Any) -> bool:
        return any(
            inspect.isclass(value)
            and value.__module__ == module.__name__
            and (
                issubclass(value, BaseModel)
                or issubclass(value, DeclarativeBase)
                or "Mapped[" in str(value.__annotations__)
            )
            for value in vars(module).values()
        )

    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(investment_system.__path__, "investment_system.")
        if ".migrations" not in info.name
    ]
    with_models = [module for module in modules if defines_models(module)]
    # When their annotations are looked at
    postponed = [module.__name__ for module in with_models if vars(module).get("annotations") is __future__.annotations]
    # Then none is a string: pydantic and SQLAlchemy compile each string annotation when the class is made
    # (docs/cold-start.md, "Annotations of models are objects, not strings")
    assert len(with_models) > 10
    assert postponed == []
