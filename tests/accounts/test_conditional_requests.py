"""The profile's ETag and If-Match on its change, on every database backend: a copy still current is
304, a change made from a stale copy is 412 PRECONDITION_FAILED and changes nothing, and the profile's
ETag changes with each change, the user's own or an administrator's."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from investment_system.db import engine as db_engine
from investment_system.errors import AppError
from investment_system.schemas.users import UserUpdate
from investment_system.schemas.versions import Precondition
from investment_system.services.accounts.profiles import update_profile
from tests.support.accounts import (
    NEW_PASSWORD,
    admin_patch_user,
    bearer,
    change_password,
    get_me,
    login,
    signed_up,
    signed_up_admin,
)
from tests.support.functions import Reply, invoke

PARALLEL_WRITERS = 20


def _patch_me(access_token: str, body: dict, if_match: str | None = None) -> Reply:
    headers = bearer(access_token) | ({"If-Match": if_match} if if_match is not None else {})
    return invoke("UpdateMeFunction", "PATCH", "/v1/users/me", json_body=body, headers=headers)


def _etag(access_token: str) -> str:
    reply = get_me(access_token)
    assert reply.status == 200, reply.text
    return reply.headers["ETag"]


def test_a_current_copy_of_the_profile_is_304(db):
    _, tokens = signed_up("etag@example.com")
    etag = _etag(tokens["access_token"])
    # When the client asks again with the ETag it holds
    reply = invoke(
        "GetMeFunction", "GET", "/v1/users/me", headers=bearer(tokens["access_token"]) | {"If-None-Match": etag}
    )
    # Then the answer is 304 without a body, with the ETag and no-store as every /v1/users answer
    assert reply.status == 304
    assert not reply.raw.get("body")
    assert reply.headers["ETag"] == etag
    assert reply.headers["Cache-Control"] == "no-store"


def test_a_change_from_a_stale_copy_is_412_and_one_from_the_current_copy_is_made(db):
    _, tokens = signed_up("editor@example.com")
    access = tokens["access_token"]
    stale = _etag(access)
    # Given the profile was changed since the client read it
    assert _patch_me(access, {"full_name": "First Editor"}).status == 200
    current = _etag(access)
    # When the client changes it with the ETag it read
    refused = _patch_me(access, {"full_name": "Second Editor"}, if_match=stale)
    # Then it is 412 PRECONDITION_FAILED and the first change stands
    assert (refused.status, refused.error_code) == (412, "PRECONDITION_FAILED")
    assert get_me(access).json["full_name"] == "First Editor"
    assert _etag(access) == current
    # And with the current ETag the change is made, under a new ETag
    made = _patch_me(access, {"full_name": "Second Editor"}, if_match=current)
    assert (made.status, made.json["full_name"]) == (200, "Second Editor")
    assert _etag(access) != current


def test_an_administrators_change_and_a_password_change_give_the_profile_a_new_etag(db):
    user, tokens = signed_up("managed@example.com")
    _, admin_tokens = signed_up_admin()
    before = _etag(tokens["access_token"])
    # When an administrator makes the user an admin
    assert admin_patch_user(admin_tokens["access_token"], user["id"], {"role": "admin"}).status == 200
    # Then the user's copy is no longer current (read with a new token: the role change ended the old ones)
    headers = bearer(login("managed@example.com").json["access_token"]) | {"If-None-Match": before}
    reply = invoke("GetMeFunction", "GET", "/v1/users/me", headers=headers)
    assert (reply.status, reply.json["role"]) == (200, "admin")
    # And a password change (which moves updated_at) gives it another ETag
    assert change_password(headers["Authorization"].removeprefix("Bearer ")).status == 204
    relogged = login("managed@example.com", NEW_PASSWORD)
    assert _etag(relogged.json["access_token"]) != reply.headers["ETag"]


@pytest.fixture
def pooled(db):
    engine = db.make_engine(pool_size=PARALLEL_WRITERS)
    db_engine.use_engine(engine)
    yield db
    db_engine.use_engine(db.engine)
    engine.dispose()


@pytest.mark.slow
def test_parallel_profile_changes_with_the_same_if_match_let_exactly_one_through(pooled):
    user, tokens = signed_up("racer@example.com")
    precondition = Precondition(versions=frozenset({_etag(tokens["access_token"]).strip('"')}))

    def write(writer: int) -> str:
        try:
            update_profile(user_id, UserUpdate(full_name=f"Writer {writer}"), precondition)
        except AppError as error:
            return error.code.value
        return "OK"

    user_id = uuid.UUID(user["id"])
    # When twenty writers change the profile at once with the ETag they all read
    with ThreadPoolExecutor(PARALLEL_WRITERS) as pool:
        outcomes = list(pool.map(write, range(PARALLEL_WRITERS)))
    # Then exactly one change is made, and the others are told their copy is stale
    assert outcomes.count("OK") == 1
    assert outcomes.count("PRECONDITION_FAILED") == PARALLEL_WRITERS - 1
    assert get_me(tokens["access_token"]).json["full_name"] == f"Writer {outcomes.index('OK')}"
