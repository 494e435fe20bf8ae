"""The Auth and Users routes through their functions' handlers, as API Gateway invokes them."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Annotated

import pytest
from aws_lambda_powertools.event_handler.depends import Depends

from invest_dev.events import LambdaContextStub, http_event
from invest_dev.template import ROOT, functions
from investment_system.entrypoints import http_handler
from investment_system.http import create_app
from investment_system.http.auth import CurrentUser
from investment_system.schemas.users import UserUpdate
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
from tests.support.functions import Reply, invoke

USER_FIELDS = {"id", "email", "full_name", "role", "is_active", "created_at", "updated_at"}


def test_register_answers_201_with_the_user_and_no_store(sqlite_db):
    reply = register(" Ada@Example.com", full_name="Ada Lovelace")
    assert reply.status == 201
    assert set(reply.json) == USER_FIELDS
    assert reply.json["email"] == "ada@example.com"
    assert (reply.json["role"], reply.json["is_active"], reply.json["full_name"]) == ("user", True, "Ada Lovelace")
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.json["created_at"].endswith("Z")


def test_register_refusals(sqlite_db):
    register("ada@example.com")
    duplicate = register("ADA@example.com")
    assert (duplicate.status, duplicate.error_code) == (409, "EMAIL_ALREADY_REGISTERED")
    weak = register("bob@example.com", password="bob")
    assert (weak.status, weak.error_code) == (422, "PASSWORD_TOO_WEAK")
    assert {d["type"] for d in weak.json["error"]["details"]} >= {"min_length", "contains_email"}
    bad_email = register("not-an-email")
    assert (bad_email.status, bad_email.error_code) == (422, "VALIDATION_ERROR")
    assert bad_email.json["error"]["details"][0]["field"] == "email"
    malformed = invoke("RegisterFunction", "POST", "/v1/auth/register", body='{"email": ')
    assert (malformed.status, malformed.error_code) == (400, "MALFORMED_JSON")


def test_an_account_registered_under_older_email_rules_still_signs_in_and_reads(sqlite_db):
    # Given a row whose address today's rules would refuse (stored before they existed)
    from investment_system.db import unit_of_work
    from investment_system.models import User
    from investment_system.services.accounts.passwords import hash_password

    legacy = "old\u200bschool@example.com"
    with unit_of_work() as session:
        session.add(User(email=legacy, password_hash=hash_password(PASSWORD), role="user"))
    # When its owner signs in with it
    tokens = login(f" {legacy} ")
    # Then the account works as before, and reads back as stored
    assert tokens.status == 200, tokens.text
    assert get_me(tokens.json["access_token"]).json["email"] == legacy


def test_login_answers_a_bearer_token_pair(sqlite_db):
    register("ada@example.com")
    reply = login("ADA@example.com")
    assert reply.status == 200
    assert set(reply.json) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert reply.json["token_type"] == "Bearer"
    assert reply.json["expires_in"] == get_settings().security.access_token_ttl_seconds
    assert reply.headers["Cache-Control"] == "no-store"


def test_locked_account_answers_423_with_retry_after(sqlite_db):
    register("ada@example.com")
    for _ in range(get_settings().security.lockout_threshold):
        assert login("ada@example.com", "Wrong-Password-000").status == 401
    reply = login("ada@example.com")
    assert (reply.status, reply.error_code) == (423, "ACCOUNT_LOCKED")
    assert 0 < int(reply.headers["Retry-After"]) <= get_settings().security.lockout_minutes * 60


def test_refresh_then_logout(sqlite_db):
    _, tokens = signed_up("ada@example.com")
    rotated = refresh(tokens["refresh_token"])
    assert rotated.status == 200
    assert rotated.json["refresh_token"] != tokens["refresh_token"]
    assert get_me(rotated.json["access_token"]).status == 200
    # When the user logs out with the current refresh token
    reply = logout(rotated.json["access_token"], rotated.json["refresh_token"])
    # Then 204 with no body, and neither that refresh token nor the access token work any longer
    assert (reply.status, reply.text) == (204, "")
    for again in (refresh(rotated.json["refresh_token"]), get_me(rotated.json["access_token"])):
        assert (again.status, again.error_code) == (401, "TOKEN_REVOKED")
        assert again.headers["WWW-Authenticate"].startswith("Bearer")


def test_profile_read_and_update(sqlite_db):
    user, tokens = signed_up("ada@example.com")
    assert get_me(tokens["access_token"]).json == user
    updated = invoke(
        "UpdateMeFunction",
        "PATCH",
        "/v1/users/me",
        json_body={"full_name": "Countess of Lovelace"},
        headers=bearer(tokens["access_token"]),
    )
    assert updated.status == 200
    assert updated.json["full_name"] == "Countess of Lovelace"
    assert updated.json["updated_at"] > user["updated_at"]


def test_password_change_answers_204_and_ends_every_token(sqlite_db):
    _, tokens = signed_up("ada@example.com")
    change = change_password(tokens["access_token"])
    assert (change.status, change.text) == (204, "")
    assert refresh(tokens["refresh_token"]).error_code == "TOKEN_REVOKED"
    assert get_me(tokens["access_token"]).error_code == "TOKEN_REVOKED"
    relogin = login("ada@example.com", NEW_PASSWORD)
    assert relogin.status == 200
    wrong = change_password(relogin.json["access_token"], PASSWORD, "Another-Good-Pass-77")
    assert (wrong.status, wrong.error_code) == (400, "INVALID_CURRENT_PASSWORD")


def test_admin_lists_users_in_pages_with_filters(sqlite_db):
    _, admin_tokens = signed_up_admin()
    for n in range(3):
        register(f"user{n}@example.com")

    def page(**query: str):
        return invoke(
            "AdminListUsersFunction",
            "GET",
            "/v1/admin/users",
            query=query,
            headers=bearer(admin_tokens["access_token"]),
        )

    first = page(role="user", limit="2")
    assert first.status == 200
    assert [u["email"] for u in first.json["items"]] == ["user2@example.com", "user1@example.com"]
    second = page(role="user", limit="2", cursor=first.json["next_cursor"])
    assert ([u["email"] for u in second.json["items"]], second.json["next_cursor"]) == (["user0@example.com"], None)
    assert [u["email"] for u in page(role="admin").json["items"]] == ["root@example.com"]
    assert page(is_active="false").json == {"items": [], "next_cursor": None}
    assert (page(limit="0").status, page(limit="101").status) == (422, 422)
    assert page(role="superuser").error_code == "VALIDATION_ERROR"
    assert page(cursor="garbage").error_code == "INVALID_CURSOR"


def test_admin_updates_another_user_but_not_themselves(sqlite_db):
    admin, admin_tokens = signed_up_admin()
    user, _ = signed_up("ada@example.com")
    promoted = admin_patch_user(admin_tokens["access_token"], user["id"], {"role": "admin"})
    assert (promoted.status, promoted.json["role"]) == (200, "admin")
    myself = admin_patch_user(admin_tokens["access_token"], admin["id"], {"is_active": False})
    assert (myself.status, myself.error_code) == (409, "CANNOT_MODIFY_SELF")
    missing = admin_patch_user(admin_tokens["access_token"], str(uuid.uuid4()), {"role": "user"})
    assert (missing.status, missing.error_code) == (404, "USER_NOT_FOUND")
    not_an_id = admin_patch_user(admin_tokens["access_token"], "123", {"role": "user"})
    assert (not_an_id.status, not_an_id.error_code) == (422, "VALIDATION_ERROR")
    nothing = admin_patch_user(admin_tokens["access_token"], user["id"], {})
    assert (nothing.status, nothing.error_code) == (422, "VALIDATION_ERROR")
    unknown_field = admin_patch_user(admin_tokens["access_token"], user["id"], {"email": "x@example.com"})
    assert (unknown_field.status, unknown_field.error_code) == (422, "VALIDATION_ERROR")
    # A null changes nothing and is no value for either field: the document shows neither as nullable
    null = admin_patch_user(admin_tokens["access_token"], user["id"], {"role": "user", "is_active": None})
    assert (null.status, null.error_code) == (422, "VALIDATION_ERROR")
    # And a number is no boolean, as the document's type says
    number = admin_patch_user(admin_tokens["access_token"], user["id"], {"is_active": 0})
    assert (number.status, number.error_code) == (422, "VALIDATION_ERROR")


# --- Authentication comes before request validation ------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, '{"full_name": '),  # malformed JSON
        ({}, '{"role": "admin"}'),  # an unknown field
        ({"Authorization": "Bearer not-a-token"}, '{"role": "admin"}'),
        ({"Authorization": "Basic YWRhOnB3"}, '{"full_name": 7}'),
    ],
)
def test_protected_route_answers_401_before_validating_the_request(sqlite_db, headers, body):
    # Given a request without valid credentials whose body would also be refused
    reply = invoke("UpdateMeFunction", "PATCH", "/v1/users/me", body=body, headers=headers)
    # Then the answer is about authentication, and says nothing about the route's schema
    assert reply.status == 401
    assert reply.error_code in {"AUTHENTICATION_REQUIRED", "TOKEN_INVALID"}
    assert reply.json["error"]["details"] is None
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_role_is_checked_before_the_body_of_an_admin_route(sqlite_db):
    _, tokens = signed_up("ada@example.com")
    reply = admin_patch_user(tokens["access_token"], "not-a-uuid", {"role": "superuser", "extra": 1})
    assert (reply.status, reply.error_code) == (403, "PERMISSION_DENIED")


def test_with_valid_credentials_the_request_is_then_validated(sqlite_db):
    _, tokens = signed_up("ada@example.com")
    reply = invoke(
        "UpdateMeFunction", "PATCH", "/v1/users/me", body='{"role": "admin"}', headers=bearer(tokens["access_token"])
    )
    assert (reply.status, reply.error_code) == (422, "VALIDATION_ERROR")


def _caller_id(user: CurrentUser) -> str:
    return str(user.user_id)


def test_authentication_needed_by_another_dependency_also_comes_first(sqlite_db):
    # Given a route whose own dependency needs the caller, and a body model forbidding unknown fields
    app = create_app()

    @app.post("/v1/probe")
    def probe(body: UserUpdate, caller: Annotated[str, Depends(_caller_id)]) -> dict[str, str]:
        return {"caller": caller}

    handler = http_handler(app)

    def call(headers: dict[str, str]) -> Reply:
        event = http_event("POST", "/v1/probe", headers={"content-type": "application/json", **headers}, body="{")
        return Reply(handler(event, LambdaContextStub()))

    # Then without a token it is 401 (not 400 for the malformed body), and with one the body is judged
    assert call({}).status == 401
    _, tokens = signed_up("ada@example.com")
    assert call(bearer(tokens["access_token"])).error_code == "MALFORMED_JSON"


def test_the_token_is_verified_once_per_request(sqlite_db, monkeypatch):
    from investment_system.services.accounts import authentication

    _, tokens = signed_up("ada@example.com")
    lookups = []
    real = authentication.caller_role
    monkeypatch.setattr(
        authentication, "caller_role", lambda *token, **how: lookups.append(token) or real(*token, **how)
    )
    assert get_me(tokens["access_token"]).status == 200
    assert len(lookups) == 1


def test_the_user_and_the_session_are_read_in_one_query(sqlite_db):
    # Given a signed-in user, and a count of the statements the database runs
    from sqlalchemy import event

    from investment_system.db.engine import get_engine

    _, tokens = signed_up("ada@example.com")
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        # When an authenticated route answers
        assert get_me(tokens["access_token"]).status == 200
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    # Then the token's session was read once, in the query that read the user (and with it the epoch)
    session_reads = [statement for statement in statements if "user_sessions" in statement]
    assert len(session_reads) == 1, statements
    assert "FROM users LEFT OUTER JOIN user_sessions" in " ".join(session_reads[0].split())


# --- Metrics and cold-start imports ------------------------------------------------------------


def _emf_metric_names(captured: str) -> set[str]:
    names = set()
    for line in captured.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                names |= {metric["Name"] for metric in directive["Metrics"]}
    return names


def test_account_events_are_counted_as_metrics(sqlite_db, capsys, monkeypatch):
    _, tokens = signed_up("ada@example.com")
    login("ada@example.com", "Wrong-Password-000")
    refresh(tokens["refresh_token"])
    after_the_refresh_grace(monkeypatch)
    refresh(tokens["refresh_token"])  # reuse
    for _ in range(get_settings().security.lockout_threshold):
        login("ada@example.com", "Wrong-Password-000")
    names = _emf_metric_names(capsys.readouterr().out)
    assert {
        "Signups",
        "LoginsSucceeded",
        "LoginsFailed",
        "TokenRefreshes",
        "RefreshTokenReuseDetected",
        "Lockouts",
    } <= names


ACCOUNT_FUNCTIONS = [
    spec
    for spec in functions()
    if str(spec.code_uri.relative_to(ROOT)).startswith(("functions/auth", "functions/users", "functions/admin"))
]
NEEDS_ARGON2 = {"RegisterFunction", "LoginFunction", "ChangePasswordFunction"}


@pytest.mark.parametrize("spec", ACCOUNT_FUNCTIONS, ids=[spec.name for spec in ACCOUNT_FUNCTIONS])
def test_only_functions_that_check_passwords_import_argon2(spec):
    # When the function's module is imported in a fresh interpreter, as a cold start does
    code = (
        "import sys; from invest_dev.template import functions, import_function; "
        f"import_function(next(s for s in functions() if s.name == {spec.name!r})); "
        "print('argon2' in sys.modules, 'boto3' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    imports_argon2, imports_boto3 = (flag == "True" for flag in result.stdout.split())
    # Then argon2 is loaded only where passwords are checked or set, and boto3 nowhere
    assert imports_argon2 is (spec.name in NEEDS_ARGON2)
    assert not imports_boto3
