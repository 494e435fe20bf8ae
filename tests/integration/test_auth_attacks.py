"""Attacks on authentication, through the functions' handlers, on SQLite, PostgreSQL and MariaDB.

Forged, expired, premature and misdirected tokens; refresh tokens used as access tokens; replayed
refresh tokens; mass assignment of roles; admin routes without the role; telling registered emails
apart by the login's answer; and many wrong passwords at once against one account.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from account_support import (
    PASSWORD,
    admin_patch_user,
    bearer,
    get_me,
    login,
    refresh,
    register,
    signed_up,
    signed_up_admin,
)
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from support import invoke

from investment_system.db import engine as db_engine
from investment_system.errors import AppError, ErrorCode
from investment_system.schemas.auth import Credentials
from investment_system.services import accounts
from investment_system.settings import get_settings


def _b64(data: dict[str, Any]) -> str:
    text = json.dumps(data, default=lambda moment: int(moment.timestamp()))  # datetimes as NumericDate
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _claims(user_id: str, **overrides: Any) -> dict[str, Any]:
    security = get_settings().security
    now = datetime.now(UTC)
    claims = {
        "sub": user_id,
        "role": "user",
        "type": "access",
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


def _assert_refused(reply, code: str = "TOKEN_INVALID") -> None:
    assert (reply.status, reply.error_code) == (401, code), reply.text
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def ada(db) -> tuple[dict[str, Any], dict[str, Any]]:
    """A registered user and a token pair of theirs, on each backend."""
    return signed_up("ada@example.com")


def test_a_valid_token_is_accepted(ada):
    # The baseline the forgeries below are measured against
    user, _ = ada
    assert get_me(_signed(_claims(user["id"]))).status == 200


def test_alg_none_and_unsigned_tokens_are_refused(ada):
    user, _ = ada
    payload = _b64(_claims(user["id"]))
    for alg in ("none", "None", "NONE"):
        _assert_refused(get_me(f"{_b64({'alg': alg, 'typ': 'JWT'})}.{payload}."))
    _assert_refused(get_me(f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}."))


def test_a_token_signed_with_another_key_is_refused(ada):
    user, _ = ada
    _assert_refused(get_me(_signed(_claims(user["id"]), key="another-secret-of-at-least-32-bytes!!")))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the forger's problem
def test_a_token_with_another_algorithm_is_refused_even_with_the_right_key(ada):
    user, _ = ada
    _assert_refused(get_me(_signed(_claims(user["id"]), algorithm="HS512")))


def test_an_expired_token_is_refused_as_expired(ada):
    user, _ = ada
    past = datetime.now(UTC) - timedelta(hours=1)
    _assert_refused(
        get_me(_signed(_claims(user["id"], iat=past, nbf=past, exp=past + timedelta(minutes=15)))), "TOKEN_EXPIRED"
    )


def test_a_not_yet_valid_token_is_refused(ada):
    user, _ = ada
    future = datetime.now(UTC) + timedelta(hours=1)
    _assert_refused(get_me(_signed(_claims(user["id"], nbf=future, exp=future + timedelta(minutes=15)))))
    _assert_refused(get_me(_signed(_claims(user["id"], iat=future, nbf=None, exp=future + timedelta(minutes=15)))))


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_a_token_for_another_issuer_or_audience_is_refused(ada, claim):
    user, _ = ada
    _assert_refused(get_me(_signed(_claims(user["id"], **{claim: "someone-else"}))))


@pytest.mark.parametrize("claim", ["sub", "role", "type", "iat", "exp", "iss", "aud", "jti"])
def test_a_token_missing_a_required_claim_is_refused(ada, claim):
    user, _ = ada
    claims = _claims(user["id"])
    del claims[claim]
    _assert_refused(get_me(_signed(claims)))


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


def test_a_replayed_refresh_token_revokes_its_family(ada):
    # Given a refresh token that was rotated (the user now holds its successor)
    _, tokens = ada
    successor = refresh(tokens["refresh_token"]).json
    # When the old one is presented again (a thief's copy)
    replay = refresh(tokens["refresh_token"])
    # Then it is refused as revoked, and the successor dies with it: the thief gains nothing
    _assert_refused(replay, "TOKEN_REVOKED")
    _assert_refused(refresh(successor["refresh_token"]), "TOKEN_REVOKED")


def test_a_role_in_the_registration_body_is_refused(db):
    reply = register("mallory@example.com", role="admin")
    assert (reply.status, reply.error_code) == (422, "VALIDATION_ERROR")
    assert reply.json["error"]["details"][0]["field"] == "role"
    assert register("mallory@example.com", is_active=True).status == 422
    assert login("mallory@example.com").error_code == "INVALID_CREDENTIALS"  # nothing was created


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


def test_a_demoted_admins_token_loses_the_role_at_once(db):
    _, first_admin = signed_up_admin("root@example.com")
    second, second_tokens = signed_up_admin("deputy@example.com")
    assert admin_patch_user(first_admin["access_token"], second["id"], {"role": "user"}).status == 200
    listing = invoke("AdminListUsersFunction", "GET", "/v1/admin/users", headers=bearer(second_tokens["access_token"]))
    assert (listing.status, listing.error_code) == (403, "PERMISSION_DENIED")


def test_a_deactivated_users_tokens_stop_working(ada):
    victim, tokens = ada
    _, admin_tokens = signed_up_admin()
    assert admin_patch_user(admin_tokens["access_token"], victim["id"], {"is_active": False}).status == 200
    for reply in (get_me(tokens["access_token"]), login("ada@example.com")):
        assert (reply.status, reply.error_code) == (403, "ACCOUNT_DISABLED")
    assert refresh(tokens["refresh_token"]).status == 401  # revoked at deactivation


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
            accounts.login(Credentials(email="ada@example.com", password="Wrong-Password-000"))
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
