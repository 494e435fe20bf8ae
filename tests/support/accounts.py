"""Helpers for tests of accounts: sign-ups, logins and bearer headers through the functions' handlers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.functions import Reply, invoke

PASSWORD = "Plum-Orchard-Ledger-42"
NEW_PASSWORD = "Copper-Meadow-Signal-93"


def register(email: str, password: str = PASSWORD, **fields: Any) -> Reply:
    return invoke(
        "RegisterFunction", "POST", "/v1/auth/register", json_body={"email": email, "password": password, **fields}
    )


def login(email: str, password: str = PASSWORD) -> Reply:
    return invoke("LoginFunction", "POST", "/v1/auth/login", json_body={"email": email, "password": password})


def refresh(refresh_token: str) -> Reply:
    return invoke("RefreshTokenFunction", "POST", "/v1/auth/refresh", json_body={"refresh_token": refresh_token})


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def logout(access_token: str, refresh_token: str) -> Reply:
    return invoke(
        "LogoutFunction",
        "POST",
        "/v1/auth/logout",
        json_body={"refresh_token": refresh_token},
        headers=bearer(access_token),
    )


def change_password(access_token: str, current: str = PASSWORD, new: str = NEW_PASSWORD) -> Reply:
    return invoke(
        "ChangePasswordFunction",
        "POST",
        "/v1/users/me/password",
        json_body={"current_password": current, "new_password": new},
        headers=bearer(access_token),
    )


def after_the_refresh_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the sessions' clock reads later than the refresh reuse grace period."""
    from investment_system.services.accounts import login_sessions
    from investment_system.settings import get_settings

    moved = login_sessions.utcnow() + timedelta(seconds=get_settings().security.refresh_reuse_grace_seconds + 1)
    monkeypatch.setattr(login_sessions, "utcnow", lambda: moved)


def get_me(access_token: str) -> Reply:
    return invoke("GetMeFunction", "GET", "/v1/users/me", headers=bearer(access_token))


def admin_patch_user(access_token: str, user_id: str, body: Any) -> Reply:
    return invoke(
        "AdminUpdateUserFunction",
        "PATCH",
        f"/v1/admin/users/{user_id}",
        route="/v1/admin/users/{user_id}",
        path_parameters={"user_id": user_id},
        json_body=body,
        headers=bearer(access_token),
    )


def signed_up(email: str, password: str = PASSWORD) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new user (the User body) and a token pair of theirs."""
    created = register(email, password)
    assert created.status == 201, created.text
    tokens = login(email, password)
    assert tokens.status == 200, tokens.text
    return created.json, tokens.json


def signed_up_admin(email: str = "root@example.com") -> tuple[dict[str, Any], dict[str, Any]]:
    """An administrator, made the way `invest create-admin` makes one, and a token pair of theirs."""
    from investment_system.db import unit_of_work
    from investment_system.services.accounts.credentials import register_user

    with unit_of_work() as session:
        register_user(session, email=email, password=PASSWORD, role="admin")
    tokens = login(email)
    assert tokens.status == 200, tokens.text
    return get_me(tokens.json["access_token"]).json, tokens.json
