"""What `make bench` does so that a function's sample event gets its success answer, call after call.

A preparer registered for a function's logical ID seeds the rows its sample event needs through the
layer's services and returns an event source, called before each timed invocation, outside the
timing; `NOTES` says under the benchmark's table what each does. Layer modules are imported inside
the functions: the benchmark sets the environment before anything of the layer reads the settings.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from invest_dev.samples import EVENTS_DIR, SAMPLE_PASSWORD, SampleUsers, session_tokens, stream_ticket, unlimited_quota

Event = dict[str, Any]
EventSource = Callable[[], Event]
Preparer = Callable[[Event, SampleUsers], EventSource]

PREPARERS: dict[str, Preparer] = {}
# Under the function table: what a preparer does, or why a function's statuses are what they are.
NOTES: dict[str, str] = {
    "NotFoundFunction": "the catch-all route: 404 is its answer",
    "MigrateFunction": "not an HTTP function (no status): applies the migrations, of which none are pending",
    "ExpireSignalsFunction": "not an HTTP function (no status): no signal is overdue (the service refuses an "
    "expiry in the past, so none can be seeded), so it times the scan that finds none",
    "ApplySubscriptionChangesFunction": "not an HTTP function (no status): no change is due, so it times the "
    "scan that finds none",
    "HousekeepingFunction": "not an HTTP function (no status): nothing has expired, so it times the four scans "
    "that find nothing",
    "ChangePlanFunction": "repeats one upgrade to pro: every call starts a checkout (202), replacing the last one",
    "CancelSubscriptionFunction": "repeats one cancellation: the first call records it, the others change nothing",
}
SECOND_PASSWORD = "Copper-Meadow-Signal-93"  # noqa: S105 (the ChangePassword sample event's new password)


def prepares(function_name: str, note: str) -> Callable[[Preparer], Preparer]:
    """Register `preparer` for a function, with the note printed under the benchmark's table."""

    def register(preparer: Preparer) -> Preparer:
        PREPARERS[function_name] = preparer
        NOTES[function_name] = note
        return preparer

    return register


def event_source(function_name: str, event: Event, users: SampleUsers) -> EventSource:
    """The events of a function's invocations: its preparer's, or the sample event every time."""
    from investment_system.observability import metrics

    preparer = PREPARERS.get(function_name)
    if preparer is None:
        return lambda: event
    prepared_events = preparer(event, users)

    def next_event() -> Event:
        prepared = prepared_events()
        metrics.clear_metrics()  # what seeding recorded would not be in this request's metrics
        return prepared

    return next_event


# ---------------------------------------------------------------------------------------------
# Event edits


def _with_body(event: Event, body: dict[str, Any]) -> Event:
    changed = copy.deepcopy(event)
    changed["body"] = json.dumps(body)
    return changed


def _with_path_parameter(event: Event, name: str, value: object) -> Event:
    """The event for the same route with path parameter `name` set to `value` (in the path too)."""
    changed = copy.deepcopy(event)
    old, new = changed["pathParameters"][name], str(value)
    changed["pathParameters"][name] = new
    changed["rawPath"] = changed["rawPath"].replace(old, new)
    changed["requestContext"]["http"]["path"] = changed["requestContext"]["http"]["path"].replace(old, new)
    return changed


def _with_bearer(event: Event, user_id: uuid.UUID) -> Event:
    """The event with an access token of a new session of another (non-admin) user."""
    return _with_access_token(event, session_tokens(user_id).access_token)


def _with_access_token(event: Event, access_token: str) -> Event:
    changed = copy.deepcopy(event)
    changed["headers"]["authorization"] = f"Bearer {access_token}"
    return changed


# ---------------------------------------------------------------------------------------------
# Seeding through the layer's services


def fresh_account(purpose: str) -> tuple[uuid.UUID, str]:
    """A newly registered account for one use of the benchmark, with password SAMPLE_PASSWORD: (id, email)."""
    from investment_system.db import unit_of_work
    from investment_system.services.accounts.credentials import register_user

    email = f"bench-{purpose}-{uuid.uuid4().hex[:8]}@example.com"
    with unit_of_work() as session:
        return register_user(session, email=email, password=SAMPLE_PASSWORD).id, email


def _sample_signal_body() -> dict[str, Any]:
    """The CreateSignalFunction sample event's body: what every seeded signal is made of."""
    event = json.loads((EVENTS_DIR / "CreateSignalFunction.json").read_text(encoding="utf-8"))
    body: dict[str, Any] = json.loads(event["body"])
    return body


def _open_signal(user_id: uuid.UUID) -> uuid.UUID:
    """A new OPEN signal of the user, made by the service behind POST /v1/signals (without the quota)."""
    from investment_system.db import unit_of_work
    from investment_system.schemas.signals import SignalCreate
    from investment_system.services.signals.lifecycle import create_signal

    with unit_of_work() as session:
        body = SignalCreate.model_validate(_sample_signal_body())
        return create_signal(session, user_id, body, unlimited_quota(session, user_id)).id


def _refresh_token(user_id: uuid.UUID) -> str:
    """A live refresh token of the user, as a login hands it out (a session of its own)."""
    return session_tokens(user_id).refresh_token


# ---------------------------------------------------------------------------------------------
# Preparers


@prepares("GetSignalFunction", "reads one signal of the sample user, seeded once")
def _one_signal(event: Event, users: SampleUsers) -> EventSource:
    prepared = _with_path_parameter(event, "id", _open_signal(users.user_id))
    return lambda: prepared


@prepares("GetSignalHistoryFunction", "reads the history of one signal of the sample user, seeded and changed once")
def _signal_with_history(event: Event, users: SampleUsers) -> EventSource:
    from investment_system.schemas.signals import SignalUpdate
    from investment_system.services.signals.lifecycle import update_signal

    signal_id = _open_signal(users.user_id)
    update_signal(users.user_id, str(signal_id), SignalUpdate(notes="Raised target after guidance"))
    prepared = _with_path_parameter(event, "id", signal_id)
    return lambda: prepared


@prepares(
    "UpdateSignalFunction",
    "changes one seeded signal of the sample user, alternating the sample event's body with the signal's "
    "original values, so that every call writes a change and its history row",
)
def _alternating_update(event: Event, users: SampleUsers) -> EventSource:
    prepared = _with_path_parameter(event, "id", _open_signal(users.user_id))
    original = _sample_signal_body()
    back = {field: original[field] for field in json.loads(prepared["body"])}
    events = itertools.cycle([prepared, _with_body(prepared, back)])
    return lambda: next(events)


@prepares(
    "UpdateMeFunction", "the sample user's name alternates between two, so every call writes a change and its audit row"
)
def _alternating_name(event: Event, users: SampleUsers) -> EventSource:
    events = itertools.cycle(
        [_with_body(event, {"full_name": "Ada Lovelace"}), _with_body(event, {"full_name": "Ada King"})]
    )
    return lambda: next(events)


@prepares("CloseSignalFunction", "closes a new OPEN signal of the sample user each call (seeded untimed)")
def _signal_to_close(event: Event, users: SampleUsers) -> EventSource:
    return lambda: _with_path_parameter(event, "id", _open_signal(users.user_id))


@prepares("DeleteSignalFunction", "deletes a new OPEN signal of the sample user each call (seeded untimed)")
def _signal_to_delete(event: Event, users: SampleUsers) -> EventSource:
    return lambda: _with_path_parameter(event, "id", _open_signal(users.user_id))


@prepares(
    "AdminUpdateUserFunction",
    "the administrator changes a user seeded once, alternating deactivation (which also revokes the "
    "user's sessions) and reactivation",
)
def _alternating_activation(event: Event, users: SampleUsers) -> EventSource:
    target_id, _ = fresh_account("admin-target")
    prepared = _with_path_parameter(event, "user_id", target_id)
    events = itertools.cycle([_with_body(prepared, {"is_active": False}), _with_body(prepared, {"is_active": True})])
    return lambda: next(events)


@prepares("RegisterFunction", "registers a new email each call")
def _new_registration(event: Event, users: SampleUsers) -> EventSource:
    body = json.loads(event["body"])
    return lambda: _with_body(event, {**body, "email": f"investor-{uuid.uuid4().hex}@example.com"})


@prepares("RefreshTokenFunction", "rotates a refresh token issued (untimed) for each call, as by a login")
def _live_refresh_token(event: Event, users: SampleUsers) -> EventSource:
    return lambda: _with_body(event, {"refresh_token": _refresh_token(users.user_id)})


@prepares("LogoutFunction", "ends a session started (untimed) for each call, as by a login: its pair is the call's")
def _live_session(event: Event, users: SampleUsers) -> EventSource:
    def logout_event() -> Event:
        tokens = session_tokens(users.user_id)
        return _with_body(_with_access_token(event, tokens.access_token), {"refresh_token": tokens.refresh_token})

    return logout_event


@prepares(
    "ChangePasswordFunction",
    "an account of its own (the sample accounts keep their documented password) changes its password "
    "back and forth between two, each call checking the current one and hashing the new one; each call "
    "with a token of a new session, signed in untimed (a password change ends the earlier ones)",
)
def _alternating_password(event: Event, users: SampleUsers) -> EventSource:
    user_id, _ = fresh_account("password")
    forth = {"current_password": SAMPLE_PASSWORD, "new_password": SECOND_PASSWORD}
    back = {"current_password": SECOND_PASSWORD, "new_password": SAMPLE_PASSWORD}
    bodies = itertools.cycle([forth, back])
    # A password change ends every earlier token of the user: each call signs in (untimed) anew.
    return lambda: _with_body(_with_bearer(event, user_id), next(bodies))


@prepares(
    "PaymentWebhookFunction",
    "an `invoice.paid` for an account seeded once, applied each call: a renewal of the sample's plan (its "
    "checkout is not the account's), with a new event id, period end and signature (the configured secret, "
    "now) per call",
)
def _signed_delivery(event: Event, users: SampleUsers) -> EventSource:
    from investment_system.db.base import utcnow
    from investment_system.services.billing.plan_terms import add_months
    from investment_system.services.billing.webhooks import SIGNATURE_HEADER, sign
    from investment_system.settings import get_settings

    payer_id, _ = fresh_account("payer")
    payload = json.loads(event["body"])
    secret = get_settings().security.payment_webhook_secret
    headers = {k: v for k, v in event["headers"].items() if k.lower() != SIGNATURE_HEADER.lower()}

    def delivery() -> Event:
        data = {key: value for key, value in payload["data"].items() if key != "checkout_id"}
        data |= {"user_id": str(payer_id), "period_end": add_months(utcnow()).isoformat()}
        body = json.dumps({**payload, "id": f"evt_bench_{uuid.uuid4().hex}", "data": data})
        timestamp = int(time.time())
        signed = {**headers, SIGNATURE_HEADER.lower(): f"t={timestamp},v1={sign(secret, timestamp, body.encode())}"}
        return {**event, "headers": signed, "body": body}

    return delivery


@prepares("StreamConnectFunction", "opens a connection of the sample user with a new ticket each call")
def _new_ticket(event: Event, users: SampleUsers) -> EventSource:
    def next_event() -> Event:
        changed = copy.deepcopy(event)
        changed["queryStringParameters"] = {"ticket": stream_ticket(users.user_id)}
        changed["requestContext"]["connectionId"] = f"bench-{uuid.uuid4().hex[:12]}="
        return changed

    return next_event


@prepares(
    "StreamDeliveryFunction",
    "a delivery for the sample user with no connection open: the lock and read that find nothing to send "
    "(pushing is timed in the stream scenario)",
)
def _sample_user_delivery(event: Event, users: SampleUsers) -> EventSource:
    from investment_system.db import unit_of_work
    from investment_system.repositories.stream.stream import ConnectionRepository

    # The connect function's runs left the sample user's connections open: closed, so that the delivery
    # does what this says, whatever was measured before it.
    with unit_of_work() as session:
        connections = ConnectionRepository(session)
        connections.delete([connection.id for connection in connections.of_user(users.user_id)])
    prepared = {**event, "user_id": str(users.user_id)}
    return lambda: prepared
