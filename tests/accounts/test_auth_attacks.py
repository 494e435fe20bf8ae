"""Attacks on authentication, through the functions' handlers, on SQLite, PostgreSQL and MariaDB.

Forged, expired, premature, overlong and misdirected tokens; refresh tokens used as access tokens;
replayed refresh tokens, and the same refresh token sent many times at once; tokens used after the
logout, password change, deactivation or role change that should have ended them; mass assignment of
roles; admin routes without the role; telling registered emails apart by the login's answer; and many
wrong passwords at once against one account.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from investment_system.db import engine as db_engine
from investment_system.db import single_statement_write, unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import AppError, ErrorCode
from investment_system.models import AuditEvent, RefreshToken, User
from investment_system.repositories.accounts.users import epoch_ended
from investment_system.schemas.auth import LoginCredentials, TokenPair
from investment_system.schemas.users import UserAdminUpdate
from investment_system.services.accounts import credentials, login_sessions, revocation
from investment_system.services.accounts.admin import update_user_as_admin
from investment_system.services.system.audit import audit_row
from investment_system.settings import get_settings
from tests.support.accounts import (
    NEW_PASSWORD,
    PASSWORD,
    admin_patch_user,
    after_the_refresh_grace,
    bearer,
    change_password,
    get_me,
    login,
    logout,
    refresh,
    register,
    signed_up,
    signed_up_admin,
)
from tests.support.functions import invoke


def _b64(data: dict[str, Any]) -> str:
    text = json.dumps(data, default=lambda moment: int(moment.timestamp()))  # datetimes as NumericDate
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _claims(tokens: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Access token claims for the user and session of a real token pair, signed below as we please."""
    issued = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    security = get_settings().security
    now = datetime.now(UTC)
    claims = {
        "sub": issued["sub"],
        "role": "user",
        "type": "access",
        "sid": issued["sid"],
        "epoch": issued["epoch"],
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "iss": security.jwt_issuer,
        "aud": security.jwt_audience,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(claims: dict[str, Any], key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or get_settings().security.jwt_secret, algorithm=algorithm)


def _session_of(tokens: dict[str, Any]) -> str:
    return str(jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"])


def _assert_refused(reply, code: str = "TOKEN_INVALID") -> None:
    assert (reply.status, reply.error_code) == (401, code), reply.text
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def ada(db) -> tuple[dict[str, Any], dict[str, Any]]:
    """A registered user and a token pair of theirs, on each backend."""
    return signed_up("ada@example.com")


def test_a_valid_token_is_accepted(ada):
    # The baseline the forgeries below are measured against
    _, tokens = ada
    assert get_me(_signed(_claims(tokens))).status == 200


def test_alg_none_and_unsigned_tokens_are_refused(ada):
    _, tokens = ada
    payload = _b64(_claims(tokens))
    for alg in ("none", "None", "NONE"):
        _assert_refused(get_me(f"{_b64({'alg': alg, 'typ': 'JWT'})}.{payload}."))
    _assert_refused(get_me(f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}."))


def test_a_token_signed_with_another_key_is_refused(ada):
    _, tokens = ada
    _assert_refused(get_me(_signed(_claims(tokens), key="another-secret-of-at-least-32-bytes!!")))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the forger's problem
def test_a_token_with_another_algorithm_is_refused_even_with_the_right_key(ada):
    _, tokens = ada
    _assert_refused(get_me(_signed(_claims(tokens), algorithm="HS512")))


def test_an_expired_token_is_refused_as_expired(ada):
    _, tokens = ada
    past = datetime.now(UTC) - timedelta(hours=1)
    _assert_refused(
        get_me(_signed(_claims(tokens, iat=past, nbf=past, exp=past + timedelta(minutes=15)))), "TOKEN_EXPIRED"
    )


def test_a_not_yet_valid_token_is_refused(ada):
    _, tokens = ada
    future = datetime.now(UTC) + timedelta(hours=1)
    _assert_refused(get_me(_signed(_claims(tokens, nbf=future, exp=future + timedelta(minutes=15)))))
    _assert_refused(get_me(_signed(_claims(tokens, iat=future, nbf=None, exp=future + timedelta(minutes=15)))))


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_a_token_for_another_issuer_or_audience_is_refused(ada, claim):
    _, tokens = ada
    _assert_refused(get_me(_signed(_claims(tokens, **{claim: "someone-else"}))))


@pytest.mark.parametrize("claim", ["sub", "role", "type", "sid", "epoch", "iat", "exp", "iss", "aud", "jti"])
def test_a_token_missing_a_required_claim_is_refused(ada, claim):
    _, tokens = ada
    claims = _claims(tokens)
    del claims[claim]
    _assert_refused(get_me(_signed(claims)))


def test_a_token_claiming_a_longer_life_than_configured_is_refused(ada):
    # Given tokens, signed with the right key, whose exp lies further from iat than the configured lifetime
    _, tokens = ada
    now = datetime.now(UTC)
    lifetime = timedelta(seconds=get_settings().security.access_token_ttl_seconds)
    for exp in (datetime(9999, 12, 31, tzinfo=UTC), now + lifetime + timedelta(seconds=1)):
        # Then they are refused, however far off their expiry
        _assert_refused(get_me(_signed(_claims(tokens, exp=exp))))
    assert get_me(_signed(_claims(tokens, exp=now + lifetime))).status == 200


def test_a_token_of_another_session_or_an_earlier_epoch_is_refused(ada):
    # Given well-signed tokens naming a session that does not exist, another user's session, or a past epoch
    _, tokens = ada
    _, other = signed_up("mallory@example.com")
    other_sid = jwt.decode(other["access_token"], options={"verify_signature": False})["sid"]
    epoch = jwt.decode(tokens["access_token"], options={"verify_signature": False})["epoch"]
    for forged in (
        _claims(tokens, sid=str(uuid.uuid4())),
        _claims(tokens, sid=other_sid),
        _claims(tokens, epoch=epoch - 1),
        _claims(tokens, epoch=str(epoch)),
    ):
        # Then none of them is accepted
        assert get_me(_signed(forged)).status == 401


def test_a_refresh_token_is_never_an_access_token_and_vice_versa(ada):
    _, tokens = ada
    _assert_refused(get_me(tokens["refresh_token"]))
    _assert_refused(refresh(tokens["access_token"]))


def test_a_tampered_payload_is_refused(ada):
    # Given an access token whose payload is edited to claim the admin role, signature kept
    _, tokens = ada
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = f"{header}.{_b64(claims | {'role': 'admin'})}.{signature}"
    # Then neither a user route nor an admin route accepts it
    _assert_refused(get_me(forged))
    listing = invoke("AdminListUsersFunction", "GET", "/v1/admin/users", headers=bearer(forged))
    _assert_refused(listing)


def test_a_refresh_token_replayed_after_the_grace_period_ends_its_session(ada, monkeypatch):
    # Given a refresh token that was rotated (the user now holds its successor)
    _, tokens = ada
    successor = refresh(tokens["refresh_token"]).json
    # When the old one is presented again after the grace period (a thief's copy)
    after_the_refresh_grace(monkeypatch)
    replay = refresh(tokens["refresh_token"])
    # Then it is refused as revoked, and the session ends with it: the thief gains nothing
    _assert_refused(replay, "TOKEN_REVOKED")
    _assert_refused(refresh(successor["refresh_token"]), "TOKEN_REVOKED")
    _assert_refused(get_me(successor["access_token"]), "TOKEN_REVOKED")
    # While the user's other sessions live on
    other = login("ada@example.com").json
    assert refresh(other["refresh_token"]).status == 200


def _live_refresh_tokens(tokens: dict[str, Any]) -> list[uuid.UUID]:
    """The ids (`jti`) of the refresh tokens of the pair's session that are not revoked."""
    with unit_of_work() as session:
        return list(
            session.scalars(
                select(RefreshToken.id).where(
                    RefreshToken.family_id == uuid.UUID(_session_of(tokens)), RefreshToken.revoked_at.is_(None)
                )
            )
        )


def _jti(token: str) -> uuid.UUID:
    return uuid.UUID(jwt.decode(token, options={"verify_signature": False})["jti"])


def test_a_refresh_retried_within_the_grace_period_keeps_the_session(ada):
    # Given a refresh token that was just rotated, the answer lost on its way
    _, tokens = ada
    first = refresh(tokens["refresh_token"])
    # When the client sends it again
    retry = refresh(tokens["refresh_token"])
    # Then it gets a pair too, of the same session, and both access tokens work
    assert (first.status, retry.status) == (200, 200)
    assert _session_of(retry.json) == _session_of(first.json) == _session_of(tokens)
    for pair in (first.json, retry.json):
        assert get_me(pair["access_token"]).status == 200
    # And the retry's refresh token replaced the first's: it is the session's one live refresh token
    assert _live_refresh_tokens(tokens) == [_jti(retry.json["refresh_token"])]
    assert refresh(retry.json["refresh_token"]).status == 200


def test_a_stolen_refresh_token_presented_within_the_grace_period_never_forks_the_session(ada, monkeypatch):
    # Given a refresh token the user has just rotated, and a thief holding a copy of it
    _, stolen = ada
    users = refresh(stolen["refresh_token"]).json
    # When the thief presents the copy within the grace period
    thiefs = refresh(stolen["refresh_token"])
    # Then the thief's pair replaces the user's: one refresh token of the session is live, the thief's
    assert thiefs.status == 200
    assert _live_refresh_tokens(stolen) == [_jti(thiefs.json["refresh_token"])]
    # And when the user presents theirs after the grace period, it is reuse: the session ends,
    # the thief's tokens with it
    after_the_refresh_grace(monkeypatch)
    _assert_refused(refresh(users["refresh_token"]), "TOKEN_REVOKED")
    _assert_refused(refresh(thiefs.json["refresh_token"]), "TOKEN_REVOKED")
    _assert_refused(get_me(thiefs.json["access_token"]), "TOKEN_REVOKED")
    assert _live_refresh_tokens(stolen) == []


def test_repeats_within_the_grace_period_leave_one_chain_only_the_last_pair_rotates(ada, monkeypatch):
    # Given a refresh token rotated, then presented five more times within the grace period
    _, tokens = ada
    pairs = [refresh(tokens["refresh_token"]) for _ in range(6)]
    assert [pair.status for pair in pairs] == [200] * 6
    # Then each repeat's pair replaced the one before it: the last refresh token is the only live one
    *replaced, last = [pair.json for pair in pairs]
    assert _live_refresh_tokens(tokens) == [_jti(last["refresh_token"])]
    # And it rotates, whatever the time, while the session lives
    after_the_refresh_grace(monkeypatch)
    rotated = refresh(last["refresh_token"])
    assert rotated.status == 200
    assert _live_refresh_tokens(tokens) == [_jti(rotated.json["refresh_token"])]
    # While a replaced one, presented after the grace period, ends the session: no second chain
    _assert_refused(refresh(replaced[2]["refresh_token"]), "TOKEN_REVOKED")
    _assert_refused(get_me(last["access_token"]), "TOKEN_REVOKED")
    assert _live_refresh_tokens(tokens) == []


def test_a_session_ends_at_its_maximum_age_however_often_it_is_refreshed(ada, monkeypatch):
    # Given a session refreshed just now
    _, tokens = ada
    pair = refresh(tokens["refresh_token"]).json
    # When its refresh token is presented after the session's maximum age from its login
    max_age = timedelta(seconds=get_settings().security.refresh_family_max_age_seconds)
    later = login_sessions.utcnow() + max_age
    monkeypatch.setattr(login_sessions, "utcnow", lambda: later)
    # Then the session is over
    _assert_refused(refresh(pair["refresh_token"]), "TOKEN_EXPIRED")


PARALLEL_REFRESHES = 20


def _at_once(db, calls: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Each call made in its own thread, all at once, each with its own connection: what they returned,
    and what they raised."""
    engine = db.make_engine(pool_size=len(calls))
    db_engine.use_engine(engine)
    results: list[Any] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def call_once(call: Callable[[], Any]) -> None:
        start.wait()
        try:
            results.append(call())
        except BaseException as error:  # reported by the caller, with what it was
            failures.append(error)

    try:
        threads = [threading.Thread(target=call_once, args=(call,)) for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        db_engine.use_engine(db.engine)
        engine.dispose()
    return results, failures


def _rotate_at_once(db, refresh_tokens: list[str]) -> tuple[list[Any], list[BaseException]]:
    """Each refresh token rotated in its own thread, all at once: the pairs issued, and what failed."""
    return _at_once(db, [partial(login_sessions.rotate, token) for token in refresh_tokens])


def test_parallel_refreshes_of_one_token_all_succeed_in_one_session_and_leave_one_live_token(db, ada, monkeypatch):
    # Given one refresh token
    _, tokens = ada
    # When it is sent many times at once (a retrying client, many tabs)
    pairs, failures = _rotate_at_once(db, [tokens["refresh_token"]] * PARALLEL_REFRESHES)
    # Then every one gets a pair, all of the one session, whose access tokens work
    assert failures == []
    assert len(pairs) == PARALLEL_REFRESHES
    assert {_session_of(pair.model_dump()) for pair in pairs} == {_session_of(tokens)}
    for pair in pairs:
        assert get_me(pair.access_token).status == 200
    # And each pair replaced the one issued before it: one refresh token of the session is live, one of theirs
    [live] = _live_refresh_tokens(tokens)
    [last] = [pair for pair in pairs if _jti(pair.refresh_token) == live]
    # Which rotates, while any other presented after the grace period ends the session
    assert refresh(last.refresh_token).status == 200
    after_the_refresh_grace(monkeypatch)
    _assert_refused(refresh(next(pair for pair in pairs if pair is not last).refresh_token), "TOKEN_REVOKED")
    assert _live_refresh_tokens(tokens) == []


def test_a_rotated_token_and_its_successor_sent_at_once_leave_one_live_token(db, ada):
    # Given a refresh token rotated (the user holds its successor, a thief a copy of it)
    _, tokens = ada
    successor = refresh(tokens["refresh_token"]).json
    # When both are sent many times at once, within the grace period
    half = PARALLEL_REFRESHES // 2
    pairs, failures = _rotate_at_once(db, [tokens["refresh_token"], successor["refresh_token"]] * half)
    # Then every one gets a pair of the session, and one refresh token of it is live: the last issued
    assert failures == []
    assert len(pairs) == PARALLEL_REFRESHES
    [live] = _live_refresh_tokens(tokens)
    assert live in {_jti(pair.refresh_token) for pair in pairs}


def test_parallel_refreshes_of_many_sessions_all_succeed(db):
    # Given many sessions of a few users
    users = [f"user{number}@example.com" for number in range(4)]
    for email in users:
        signed_up(email)
    pairs = [login(users[number % len(users)]).json["refresh_token"] for number in range(PARALLEL_REFRESHES)]
    for _ in range(5):
        # When each session's refresh token is rotated, all at once, again and again
        rotated, failures = _rotate_at_once(db, pairs)
        # Then every one succeeds (on MySQL, revoking a session's tokens through the family's index locked
        # its neighbours' gaps, and parallel refreshes of two sessions deadlocked)
        assert failures == []
        pairs = [pair.refresh_token for pair in rotated]


def _end_every_session(user_id: uuid.UUID) -> None:
    """What a password change, a deactivation or a role change runs once the request is checked."""
    audit = audit_row(entity_type="user", entity_id=user_id, action="password_changed", actor_id=user_id)
    with single_statement_write() as session:
        ending = epoch_ended(user_id, {}, utcnow())
        revocation.end_every_session(session, ending, user_id, active=True, now=utcnow(), audit=audit)


def test_a_refresh_during_a_password_change_is_refused_or_ended_never_deadlocked(db):
    for number in range(20):
        # Given a user holding a refresh token
        user, tokens = signed_up(f"user{number}@example.com")
        # When the token is refreshed while every session of its user is ended
        results, failures = _at_once(
            db,
            [
                partial(login_sessions.rotate, tokens["refresh_token"]),
                partial(_end_every_session, uuid.UUID(user["id"])),
            ],
        )
        # Then the refresh either came first, and its pair was ended with the rest, or it is refused: no
        # deadlock (the refresh locked the session, then the user's row for its new token's foreign key,
        # the other way round)
        assert [getattr(failure, "code", failure) for failure in failures] in ([], [ErrorCode.TOKEN_REVOKED])
        # And no refresh token it had, or got meanwhile, refreshes any more. (On PostgreSQL the change is one
        # statement, which may not see the row of a token inserted while it ran: that token is refused all
        # the same, its session ended and its epoch gone.)
        issued = [pair.refresh_token for pair in results if isinstance(pair, TokenPair)]
        for refresh_token in [tokens["refresh_token"], *issued]:
            with pytest.raises(AppError) as refused:
                login_sessions.rotate(refresh_token)
            assert refused.value.code == ErrorCode.TOKEN_REVOKED


def test_a_refresh_during_a_deactivation_is_refused_or_ended_never_deadlocked(db):
    # Given an administrator
    admin, _ = signed_up_admin()
    for number in range(10):
        # And a user holding a refresh token
        user, tokens = signed_up(f"user{number}@example.com")
        # When the token is refreshed while the administrator deactivates the user (their row locked
        # for the change, then every session ended)
        deactivation = UserAdminUpdate(is_active=False)
        results, failures = _at_once(
            db,
            [
                partial(login_sessions.rotate, tokens["refresh_token"]),
                partial(update_user_as_admin, uuid.UUID(admin["id"]), uuid.UUID(user["id"]), deactivation),
            ],
        )
        # Then neither deadlocks: the refresh came first and its pair was ended, or it is refused
        codes = [getattr(failure, "code", failure) for failure in failures]
        assert codes in ([], [ErrorCode.TOKEN_REVOKED], [ErrorCode.ACCOUNT_DISABLED])
        # And nothing the user held or got refreshes any more
        issued = [pair.refresh_token for pair in results if isinstance(pair, TokenPair)]
        for refresh_token in [tokens["refresh_token"], *issued]:
            with pytest.raises(AppError) as refused:
                login_sessions.rotate(refresh_token)
            assert refused.value.code in (ErrorCode.TOKEN_REVOKED, ErrorCode.ACCOUNT_DISABLED)


def test_parallel_administrators_changes_each_land_with_their_record(db):
    # Given an administrator and a user
    admin, _ = signed_up_admin()
    user, _ = signed_up("target@example.com")
    user_id = uuid.UUID(user["id"])
    # When ten changes of the user's role and activation are made at the same instant
    updates = [UserAdminUpdate(role="admin" if n % 2 else "user", is_active=n % 3 != 0) for n in range(10)]
    calls = [partial(update_user_as_admin, uuid.UUID(admin["id"]), user_id, update) for update in updates]
    _, failures = _at_once(db, calls)
    # Then each one lands (a change that found the row changed since its read is made again, locked)
    assert failures == []
    # And the audit trail has one row per change, the last one saying what the row now is
    with unit_of_work() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == user_id, AuditEvent.action == "updated_by_admin")
        ).all()
        stored = session.get(User, user_id)
        assert stored is not None
        assert len(rows) == 10
        last = max(rows, key=lambda row: row.id).changes
        for field, value in (("role", stored.role), ("is_active", stored.is_active)):
            assert last.get(field, {"to": value})["to"] == value


def test_logout_ends_the_sessions_access_tokens_at_once(ada):
    # Given two sessions of one user
    _, tokens = ada
    other = login("ada@example.com").json
    # When the user logs out of one
    assert logout(tokens["access_token"], tokens["refresh_token"]).status == 204
    # Then its access and refresh tokens are refused from then on, and the other session lives on
    _assert_refused(get_me(tokens["access_token"]), "TOKEN_REVOKED")
    _assert_refused(refresh(tokens["refresh_token"]), "TOKEN_REVOKED")
    assert get_me(other["access_token"]).status == 200


def test_a_password_change_ends_every_earlier_token_at_once(ada):
    # Given two sessions of one user
    _, tokens = ada
    other = login("ada@example.com").json
    # When the password is changed in one of them
    assert change_password(tokens["access_token"]).status == 204
    # Then every token of both is refused from then on; the new password signs in
    for pair in (tokens, other):
        _assert_refused(get_me(pair["access_token"]), "TOKEN_REVOKED")
        _assert_refused(refresh(pair["refresh_token"]), "TOKEN_REVOKED")
    assert get_me(login("ada@example.com", NEW_PASSWORD).json["access_token"]).status == 200


def test_a_role_in_the_registration_body_is_refused(db):
    reply = register("mallory@example.com", role="admin")
    assert (reply.status, reply.error_code) == (422, "VALIDATION_ERROR")
    assert reply.json["error"]["details"][0]["field"] == "role"
    assert register("mallory@example.com", is_active=True).status == 422
    assert login("mallory@example.com").error_code == "INVALID_CREDENTIALS"  # nothing was created


LOOKALIKE_EMAILS = {
    "zero-width space": "admin@example.com\u200b",
    "zero-width joiner": "ad\u200dmin@example.com",
    "right-to-left override": "admin@\u202emoc.elpmaxe",
    "NUL": "ad\u0000min@example.com",
    "bell": "admin\u0007@example.com",
    "combining accent": "admin@example.com\u0301",
    "Cyrillic a": "\u0430dmin@example.com",
    "Cyrillic a in the domain": "admin@ex\u0430mple.com",
    "fullwidth @": "admin\uff20example.com",
}


@pytest.mark.parametrize("email", LOOKALIKE_EMAILS.values(), ids=LOOKALIKE_EMAILS.keys())
def test_an_email_that_looks_like_another_is_refused(db, email):
    # Given the administrator's account
    register("admin@example.com")
    # When someone registers an address that displays like it
    reply = register(email)
    # Then it is refused, naming the email, and no second account exists
    assert (reply.status, reply.error_code) == (422, "VALIDATION_ERROR"), reply.text
    assert reply.json["error"]["details"][0]["field"] == "email"
    with unit_of_work() as session:
        assert session.scalars(select(User.email)).all() == ["admin@example.com"]


def test_a_role_in_the_profile_body_is_refused(ada):
    user, tokens = ada
    for body in (
        {"role": "admin"},
        {"full_name": "M", "role": "admin"},
        {"is_active": True},
        {"email": "x@example.com"},
    ):
        reply = invoke(
            "UpdateMeFunction", "PATCH", "/v1/users/me", json_body=body, headers=bearer(tokens["access_token"])
        )
        assert (reply.status, reply.error_code) == (422, "VALIDATION_ERROR")
    assert get_me(tokens["access_token"]).json == user


def test_admin_routes_refuse_a_user_acting_on_another_user(ada):
    # Given two ordinary users
    _, mallory_tokens = signed_up("mallory@example.com")
    victim, _ = ada
    # When one of them calls the admin routes, on the other's id or their own
    for target in (victim["id"], get_me(mallory_tokens["access_token"]).json["id"]):
        reply = admin_patch_user(mallory_tokens["access_token"], target, {"role": "admin"})
        assert (reply.status, reply.error_code) == (403, "PERMISSION_DENIED")
    listing = invoke("AdminListUsersFunction", "GET", "/v1/admin/users", headers=bearer(mallory_tokens["access_token"]))
    assert (listing.status, listing.error_code) == (403, "PERMISSION_DENIED")
    # Then nobody's role changed
    assert get_me(mallory_tokens["access_token"]).json["role"] == "user"
    assert login("ada@example.com").status == 200


def test_a_role_change_ends_every_earlier_token_at_once(db):
    # Given two administrators, each signed in
    _, first_admin = signed_up_admin("root@example.com")
    second, second_tokens = signed_up_admin("deputy@example.com")
    # When one demotes the other
    assert admin_patch_user(first_admin["access_token"], second["id"], {"role": "user"}).status == 200
    # Then the demoted one's tokens are refused at once, and a new login carries the new role only
    listing = invoke("AdminListUsersFunction", "GET", "/v1/admin/users", headers=bearer(second_tokens["access_token"]))
    _assert_refused(listing, "TOKEN_REVOKED")
    _assert_refused(refresh(second_tokens["refresh_token"]), "TOKEN_REVOKED")
    again = login("deputy@example.com").json
    listing = invoke("AdminListUsersFunction", "GET", "/v1/admin/users", headers=bearer(again["access_token"]))
    assert (listing.status, listing.error_code) == (403, "PERMISSION_DENIED")


def test_a_deactivated_users_tokens_stop_working_and_stay_dead(ada):
    victim, tokens = ada
    _, admin_tokens = signed_up_admin()
    assert admin_patch_user(admin_tokens["access_token"], victim["id"], {"is_active": False}).status == 200
    for reply in (get_me(tokens["access_token"]), login("ada@example.com"), refresh(tokens["refresh_token"])):
        assert (reply.status, reply.error_code) == (403, "ACCOUNT_DISABLED")
    # When the account is active again, the tokens issued before the deactivation still do not work
    assert admin_patch_user(admin_tokens["access_token"], victim["id"], {"is_active": True}).status == 200
    _assert_refused(get_me(tokens["access_token"]), "TOKEN_REVOKED")
    _assert_refused(refresh(tokens["refresh_token"]), "TOKEN_REVOKED")
    assert get_me(login("ada@example.com").json["access_token"]).status == 200


def _comparable(reply) -> tuple[int, str, str, dict[str, str]]:
    # Per-request values aside (the correlation ID, the rate limiter's remaining count and reset)
    headers = {
        k: v
        for k, v in reply.headers.items()
        if k not in {"X-Correlation-ID", "RateLimit-Remaining", "RateLimit-Reset"}
    }
    return reply.status, reply.error_code, reply.json["error"]["message"], headers


def test_unknown_email_and_wrong_password_are_indistinguishable(ada, monkeypatch):
    # Given a count of argon2 verifications
    verifications = []
    real_verify = PasswordHasher.verify
    monkeypatch.setattr(PasswordHasher, "verify", lambda self, h, p: verifications.append(1) or real_verify(self, h, p))
    # When one login names an unknown email and another a wrong password
    unknown = login("nobody@example.com", "Wrong-Password-000")
    unknown_cost = len(verifications)
    wrong = login("ada@example.com", "Wrong-Password-000")
    # Then both answers are the same (status, code, message, headers), and both cost one verification
    assert _comparable(unknown) == _comparable(wrong)
    assert _comparable(unknown)[:2] == (401, "INVALID_CREDENTIALS")
    assert unknown_cost == 1
    assert len(verifications) == 2


def test_emails_are_unique_case_insensitively_in_the_database_itself(db):
    # Given a registered email, an insert that bypasses the services with another spelling is refused
    register("ada@example.com")
    with pytest.raises(DBAPIError), db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, password_hash, role, is_active, failed_login_count, created_at, "
                "updated_at) VALUES (:id, :email, 'x', 'user', :active, 0, :now, :now)"
            ),
            {"id": uuid.uuid4().hex, "email": "Ada@Example.com", "active": True, "now": "2026-01-01 00:00:00"},
        )


PARALLEL_ATTEMPTS = 16


def test_parallel_wrong_passwords_cannot_get_past_the_lockout_threshold(server_db):
    # Given an account, and an engine with a connection per attacking thread
    threshold = get_settings().security.lockout_threshold
    register("ada@example.com")
    engine = server_db.make_engine(pool_size=PARALLEL_ATTEMPTS)
    db_engine.use_engine(engine)
    verifications = []
    real_verify = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, stored: str, password: str) -> bool:
        verifications.append(1)
        time.sleep(0.05)  # as long as a verification with the real parameters: the attempts overlap
        return real_verify(self, stored, password)

    outcomes: list[ErrorCode] = []
    start = threading.Barrier(PARALLEL_ATTEMPTS)

    def attempt() -> None:
        start.wait()
        try:
            credentials.login(LoginCredentials(email="ada@example.com", password="Wrong-Password-000"))
        except AppError as error:
            outcomes.append(error.code)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(PasswordHasher, "verify", counting_verify)
            # When many wrong passwords arrive at once
            threads = [threading.Thread(target=attempt) for _ in range(PARALLEL_ATTEMPTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        # Then exactly `threshold` of them had their password checked; the rest found the account locked
        assert len(verifications) == threshold
        assert outcomes.count(ErrorCode.INVALID_CREDENTIALS) == threshold
        assert outcomes.count(ErrorCode.ACCOUNT_LOCKED) == PARALLEL_ATTEMPTS - threshold
        # And the right password is refused too, for the lockout's duration
        reply = login("ada@example.com", PASSWORD)
        assert (reply.status, reply.error_code) == (423, "ACCOUNT_LOCKED")
        assert int(reply.headers["Retry-After"]) > 0
    finally:
        db_engine.use_engine(server_db.engine)
        engine.dispose()
