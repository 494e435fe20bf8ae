"""The Auth and Users routes over HTTP, through the local gateway (`invest serve`) and through
`sam local start-api` (make test-sam)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.support.accounts import NEW_PASSWORD, PASSWORD
from tests.support.gateway import INVEST, RunningGateway, invest_serve_command, migrated_api_environment

pytestmark = pytest.mark.slow
# sam local starts a function's container, building its image, on the function's first request.
REQUEST_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module", params=["invest-serve", pytest.param("sam-local", marks=pytest.mark.sam)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """`invest serve` on a fresh SQLite database migrated with `invest migrate`, or `sam local start-api`
    in the runtime containers on the session's PostgreSQL database (tests/support/sam.py); with an admin
    from `invest create-admin`."""
    if request.param == "sam-local":
        env = {**os.environ, "DATABASE_URL": request.getfixturevalue("sam_database"), "INVEST_ADMIN_PASSWORD": PASSWORD}
        subprocess.run(
            [str(INVEST), "create-admin", "--email", "root@example.com"], env=env, check=True, capture_output=True
        )
        yield request.getfixturevalue("sam_api")
        return
    workdir = tmp_path_factory.mktemp("accounts-gateway")
    env = migrated_api_environment(workdir, INVEST_ADMIN_PASSWORD=PASSWORD)
    subprocess.run(
        [str(INVEST), "create-admin", "--email", "root@example.com"], env=env, check=True, capture_output=True
    )
    gateway = RunningGateway(invest_serve_command(), env)
    yield gateway
    assert gateway.stop() == 0


def _call(
    api: RunningGateway,
    method: str,
    path: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs,
) -> requests.Response:
    headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    return requests.request(method, api.url(path), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, **kwargs)


def _signed_up(api: RunningGateway) -> tuple[str, dict]:
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    assert _call(api, "POST", "/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    tokens = _call(api, "POST", "/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return email, tokens.json()


def test_a_user_signs_up_logs_in_edits_the_profile_and_logs_out(api):
    email, tokens = _signed_up(api)
    me = _call(api, "GET", "/v1/users/me", tokens["access_token"])
    assert (me.status_code, me.json()["email"]) == (200, email)
    assert me.headers["Cache-Control"] == "no-store"
    patched = _call(api, "PATCH", "/v1/users/me", tokens["access_token"], json={"full_name": "Ada"})
    assert (patched.status_code, patched.json()["full_name"]) == (200, "Ada")
    rotated = _call(api, "POST", "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    out = _call(api, "POST", "/v1/auth/logout", new["access_token"], json={"refresh_token": new["refresh_token"]})
    assert (out.status_code, out.content) == (204, b"")
    revoked = _call(api, "POST", "/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (401, "TOKEN_REVOKED")
    assert revoked.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_token_is_401_with_www_authenticate_even_with_a_bad_body(api):
    reply = _call(api, "PATCH", "/v1/users/me", data="{not json", headers={"Content-Type": "application/json"})
    assert (reply.status_code, reply.json()["error"]["code"]) == (401, "AUTHENTICATION_REQUIRED")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_password_change_over_http(api):
    email, tokens = _signed_up(api)
    change = _call(
        api,
        "POST",
        "/v1/users/me/password",
        tokens["access_token"],
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert change.status_code == 204
    assert _call(api, "POST", "/v1/auth/login", json={"email": email, "password": NEW_PASSWORD}).status_code == 200


def test_the_admin_from_the_command_line_administers_users(api):
    email, user_tokens = _signed_up(api)
    admin = _call(api, "POST", "/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}).json()
    listing = _call(api, "GET", "/v1/admin/users", admin["access_token"], params={"role": "user", "limit": 100})
    assert listing.status_code == 200
    user = next(item for item in listing.json()["items"] if item["email"] == email)
    disabled = _call(api, "PATCH", f"/v1/admin/users/{user['id']}", admin["access_token"], json={"is_active": False})
    assert (disabled.status_code, disabled.json()["is_active"]) == (200, False)
    refused = _call(api, "GET", "/v1/users/me", user_tokens["access_token"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "ACCOUNT_DISABLED")
    forbidden = _call(api, "GET", "/v1/admin/users", user_tokens["access_token"])
    assert forbidden.status_code == 403
