"""Account services on SQLite: registration, login and lockout, sessions, password change, profiles, admin."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import AppError, ErrorCode
from investment_system.models import AuditEvent, RefreshToken, User
from investment_system.schemas.auth import LoginCredentials, UserRegistration
from investment_system.schemas.users import PasswordChange, UserAdminUpdate, UserUpdate
from investment_system.services.accounts import (
    admin,
    authentication,
    credentials,
    login_sessions,
    profiles,
    reads,
    revocation,
)
from investment_system.services.accounts.tokens import verify_access_token, verify_refresh_token
from investment_system.services.system.audit import history
from investment_system.settings import get_settings

PASSWORD = "Plum-Orchard-Ledger-42"
NEW_PASSWORD = "Copper-Meadow-Signal-93"


def _register(email: str = "ada@example.com", password: str = PASSWORD, full_name: str | None = "Ada") -> uuid.UUID:
    return credentials.register(UserRegistration(email=email, password=password, full_name=full_name)).id


def _register_admin(email: str = "root@example.com") -> uuid.UUID:
    with unit_of_work() as session:
        return credentials.register_user(session, email=email, password=PASSWORD, role="admin").id


def _login(email: str = "ada@example.com", password: str = PASSWORD):
    return credentials.login(LoginCredentials(email=email, password=password))


def _code(call) -> ErrorCode:
    with pytest.raises(AppError) as raised:
        call()
    return raised.value.code


def _user(user_id: uuid.UUID) -> User:
    with unit_of_work() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def _audit(user_id: uuid.UUID) -> list[AuditEvent]:
    with unit_of_work() as session:
        return list(history(session, entity_type="user", entity_id=user_id))


def _caller_role(pair) -> str:
    """What an authenticated request with the pair's access token finds: the caller's role, or an error."""
    claims = verify_access_token(pair.access_token)
    return authentication.caller_role(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), claims["epoch"])


def _session_id(pair) -> uuid.UUID:
    return uuid.UUID(verify_access_token(pair.access_token)["sid"])


@pytest.fixture
def after_the_grace(monkeypatch):
    """Move the sessions' clock past the refresh reuse grace period."""
    grace = get_settings().security.refresh_reuse_grace_seconds

    def later() -> None:
        moved = utcnow() + timedelta(seconds=grace + 1)
        monkeypatch.setattr(login_sessions, "utcnow", lambda: moved)

    return later


def _live_refresh_tokens(user_id: uuid.UUID) -> int:
    with unit_of_work() as session:
        rows = session.scalars(
            select(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        )
        return len(list(rows))


# --- Registration -----------------------------------------------------------------------------


def test_registration_stores_a_normalised_email_an_argon2_hash_and_an_audit_record(sqlite_db):
    # When someone registers with a padded, mixed-case email
    created = credentials.register(UserRegistration(email="  Ada@Example.COM ", password=PASSWORD, full_name="Ada"))
    # Then the account has the trimmed, lower-cased email, the user role, and is active
    assert (created.email, created.role, created.is_active) == ("ada@example.com", "user", True)
    stored = _user(created.id)
    assert stored.password_hash.startswith("$argon2id$")
    # And one audit record says who was created, without the password hash
    [event] = _audit(created.id)
    assert event.action == "created"
    assert event.actor_id == created.id
    assert event.changes["email"] == {"from": None, "to": "ada@example.com"}
    assert "password_hash" not in event.changes


def test_an_email_registers_once_whatever_its_case(sqlite_db):
    _register("ada@example.com")
    assert _code(lambda: _register("ADA@example.com")) is ErrorCode.EMAIL_ALREADY_REGISTERED


def test_an_address_refused_outside_the_api_says_why(sqlite_db):
    # Registering without the request model (as invest create-admin and invest import-users do)
    with pytest.raises(AppError) as refused, unit_of_work() as session:
        credentials.register_user(session, email="root@example.com\u202e", password=PASSWORD)
    assert refused.value.code is ErrorCode.INVALID_EMAIL
    assert "RIGHT-TO-LEFT OVERRIDE" in refused.value.message


def test_a_weak_password_is_refused_and_nothing_is_stored(sqlite_db):
    assert _code(lambda: _register(password="password")) is ErrorCode.PASSWORD_TOO_WEAK
    with unit_of_work() as session:
        assert session.scalars(select(User)).first() is None


def test_registration_lands_with_the_rest_of_its_unit_of_work_or_not_at_all(sqlite_db):
    # Given a unit of work that registers a user and then fails (as a later step, e.g. billing, might)
    def register_then_fail() -> None:
        with unit_of_work() as session:
            credentials.register_user(session, email="ada@example.com", password=PASSWORD)
            raise RuntimeError("a later step of the same transaction failed")

    with pytest.raises(RuntimeError):
        register_then_fail()
    # Then neither the user nor its audit record exists
    with unit_of_work() as session:
        assert session.scalars(select(User)).first() is None
        assert session.scalars(select(AuditEvent)).first() is None


# --- Login and lockout --------------------------------------------------------------------------


def test_login_returns_an_access_and_a_refresh_token_stored_only_as_a_digest(sqlite_db):
    user_id = _register()
    pair = _login()
    assert verify_access_token(pair.access_token)["sub"] == str(user_id)
    assert verify_refresh_token(pair.refresh_token)["sub"] == str(user_id)
    assert (pair.token_type, pair.expires_in) == ("Bearer", get_settings().security.access_token_ttl_seconds)
    with unit_of_work() as session:
        [stored] = session.scalars(select(RefreshToken)).all()
        assert stored.token_hash == hashlib.sha256(pair.refresh_token.encode()).hexdigest()
        assert stored.token_hash != pair.refresh_token


def test_unknown_email_and_wrong_password_get_the_same_error(sqlite_db):
    _register()
    with pytest.raises(AppError) as unknown:
        _login(email="nobody@example.com")
    with pytest.raises(AppError) as wrong:
        _login(password=PASSWORD + "-wrong")
    assert unknown.value.code is wrong.value.code is ErrorCode.INVALID_CREDENTIALS
    assert (unknown.value.message, unknown.value.retry_after) == (wrong.value.message, wrong.value.retry_after)


def test_threshold_failed_logins_lock_the_account_even_for_the_right_password(sqlite_db):
    security = get_settings().security
    user_id = _register()
    # Given LOCKOUT_THRESHOLD wrong passwords, each answered as a wrong password
    for _ in range(security.lockout_threshold):
        assert _code(lambda: _login(password="Wrong-Password-000")) is ErrorCode.INVALID_CREDENTIALS
    # When the right password comes next
    with pytest.raises(AppError) as raised:
        _login()
    # Then the account is locked, with Retry-After the lockout's length
    assert raised.value.code is ErrorCode.ACCOUNT_LOCKED
    retry_after = raised.value.retry_after
    assert security.lockout_minutes * 60 - 5 <= retry_after <= security.lockout_minutes * 60
    # And the audit trail records the lock
    assert [event.action for event in _audit(user_id)] == ["created", "locked"]


def test_lock_expires_after_the_lockout_time(sqlite_db):
    user_id = _register()
    for _ in range(get_settings().security.lockout_threshold):
        _code(lambda: _login(password="Wrong-Password-000"))
    # Given the lock's time has passed
    with unit_of_work() as session:
        session.get(User, user_id).locked_until = utcnow() - timedelta(seconds=1)
    # Then the right password logs in again, and the count starts afresh
    assert _login().access_token
    assert _user(user_id).failed_login_count == 0


def test_a_successful_login_resets_the_count_of_failures(sqlite_db):
    threshold = get_settings().security.lockout_threshold
    _register()
    for _ in range(threshold - 1):
        _code(lambda: _login(password="Wrong-Password-000"))
    _login()
    for _ in range(threshold - 1):
        assert _code(lambda: _login(password="Wrong-Password-000")) is ErrorCode.INVALID_CREDENTIALS
    assert _login().access_token


def test_login_upgrades_a_hash_made_with_weaker_parameters(sqlite_db):
    # Given a user whose stored hash uses less memory than the current settings
    user_id = _register()
    weak = PasswordHasher(memory_cost=get_settings().security.argon2_memory_kib // 2, time_cost=1).hash(PASSWORD)
    with unit_of_work() as session:
        session.get(User, user_id).password_hash = weak
    # When they log in
    _login()
    # Then the hash is replaced by one with the current parameters, for the same password
    stored = _user(user_id).password_hash
    assert stored != weak
    assert f"m={get_settings().security.argon2_memory_kib}," in stored
    assert _login().access_token
    assert "password_rehashed" in [event.action for event in _audit(user_id)]


def test_a_deactivated_user_cannot_log_in_but_a_wrong_password_reveals_nothing(sqlite_db):
    admin_id = _register_admin()
    user_id = _register()
    admin.update_user_as_admin(admin_id, user_id, UserAdminUpdate(is_active=False))
    assert _code(lambda: _login(password="Wrong-Password-000")) is ErrorCode.INVALID_CREDENTIALS
    assert _code(_login) is ErrorCode.ACCOUNT_DISABLED


# --- Sessions: rotation, reuse, logout ----------------------------------------------------------


def test_refresh_rotates_within_the_session_and_a_late_reuse_ends_it(sqlite_db, after_the_grace):
    user_id = _register()
    first = _login()
    other_session = _login()
    # When the refresh token is rotated
    second = login_sessions.rotate(first.refresh_token)
    assert verify_access_token(second.access_token)["sub"] == str(user_id)
    assert _session_id(second) == _session_id(first)
    # Then presenting the old one again after the grace period is refused as revoked
    after_the_grace()
    assert _code(lambda: login_sessions.rotate(first.refresh_token)) is ErrorCode.TOKEN_REVOKED
    # And the session ends: its current refresh and access tokens with it, while another login lives on
    assert _code(lambda: login_sessions.rotate(second.refresh_token)) is ErrorCode.TOKEN_REVOKED
    assert _code(lambda: _caller_role(second)) is ErrorCode.TOKEN_REVOKED
    assert login_sessions.rotate(other_session.refresh_token).access_token


def test_a_reuse_within_the_grace_period_is_a_retry_whose_pair_replaces_the_live_one(sqlite_db, after_the_grace):
    # Given a refresh token just rotated (the answer got lost, or another tab did it)
    user_id = _register()
    first = _login()
    second = login_sessions.rotate(first.refresh_token)
    # When it is presented again at once
    retry = login_sessions.rotate(first.refresh_token)
    # Then the retry gets a pair of the same session, whose tokens work, and the access tokens before it too
    assert _session_id(retry) == _session_id(first)
    assert _caller_role(retry) == _caller_role(second) == "user"
    # And its refresh token replaced the one issued before it: the session's one live refresh token
    assert _live_refresh_tokens(user_id) == 1
    assert login_sessions.rotate(retry.refresh_token).access_token
    # While the replaced one, presented after the grace period, is reuse: the session ends
    after_the_grace()
    assert _code(lambda: login_sessions.rotate(second.refresh_token)) is ErrorCode.TOKEN_REVOKED
    assert _code(lambda: _caller_role(retry)) is ErrorCode.TOKEN_REVOKED


def test_a_session_ends_at_its_maximum_age_however_often_it_is_refreshed(sqlite_db, settings_env):
    # Given sessions that end 90 s after their login, well before an access token's 15 minutes
    settings_env.setenv("REFRESH_FAMILY_MAX_AGE_SECONDS", "90")
    _register()
    login_at = utcnow()
    pair = _login()
    refreshed = login_sessions.rotate(pair.refresh_token)
    # Then no token of the session, first or refreshed, expires after the session's end
    session_end = (login_at + timedelta(seconds=91)).timestamp()
    assert verify_access_token(pair.access_token)["exp"] <= session_end
    assert verify_access_token(refreshed.access_token)["exp"] <= session_end
    assert verify_refresh_token(refreshed.refresh_token)["exp"] <= session_end
    assert refreshed.expires_in <= 90
    # And once its end has passed, a refresh is refused as expired
    with pytest.MonkeyPatch.context() as clock:
        clock.setattr(login_sessions, "utcnow", lambda: login_at + timedelta(seconds=91))
        assert _code(lambda: login_sessions.rotate(refreshed.refresh_token)) is ErrorCode.TOKEN_EXPIRED


def test_logout_ends_the_session_and_is_quiet_about_dead_tokens(sqlite_db):
    user_id = _register()
    pair = _login()
    other = _login()
    rotated = login_sessions.rotate(pair.refresh_token)
    # An older token of the session logs the session out: its tokens, access tokens too, stop working
    revocation.logout(user_id, _session_id(other), pair.refresh_token)
    assert _code(lambda: login_sessions.rotate(rotated.refresh_token)) is ErrorCode.TOKEN_REVOKED
    assert _code(lambda: _caller_role(rotated)) is ErrorCode.TOKEN_REVOKED
    # And so does the session of the access token the call was made with
    assert _code(lambda: _caller_role(other)) is ErrorCode.TOKEN_REVOKED
    third = _login()
    revocation.logout(user_id, _session_id(third), "not-a-token")
    revocation.logout(user_id, _session_id(third), pair.access_token)  # not a refresh token: nothing more to end
    assert _login().access_token


def test_logout_refuses_another_users_refresh_token(sqlite_db):
    _register("eve@example.com")
    eve = _login("eve@example.com")
    ada_id = _register()
    ada = _login()
    assert _code(lambda: revocation.logout(ada_id, _session_id(ada), eve.refresh_token)) is ErrorCode.PERMISSION_DENIED
    assert login_sessions.rotate(eve.refresh_token).access_token
    assert _caller_role(ada) == "user"  # refused: nothing ended


# --- Password change ------------------------------------------------------------------------------


def test_password_change_ends_every_token_and_swaps_the_password(sqlite_db):
    user_id = _register()
    sessions_before = [_login(), _login()]
    credentials.change_password(user_id, PasswordChange(current_password=PASSWORD, new_password=NEW_PASSWORD))
    assert _live_refresh_tokens(user_id) == 0
    for pair in sessions_before:
        assert _code(lambda pair=pair: login_sessions.rotate(pair.refresh_token)) is ErrorCode.TOKEN_REVOKED
        assert _code(lambda pair=pair: _caller_role(pair)) is ErrorCode.TOKEN_REVOKED
    assert _code(_login) is ErrorCode.INVALID_CREDENTIALS
    assert _login(password=NEW_PASSWORD).access_token
    change = next(event for event in _audit(user_id) if event.action == "password_changed")
    assert change.actor_id == user_id
    assert change.changes == {}


@pytest.mark.parametrize(
    ("current", "new", "code"),
    [
        ("Wrong-Password-000", NEW_PASSWORD, ErrorCode.INVALID_CURRENT_PASSWORD),
        (PASSWORD, PASSWORD, ErrorCode.PASSWORD_REUSED),
        (PASSWORD, "weak", ErrorCode.PASSWORD_TOO_WEAK),
    ],
)
def test_password_change_refusals_leave_the_password_and_sessions_alone(sqlite_db, current, new, code):
    user_id = _register()
    _login()
    assert (
        _code(lambda: credentials.change_password(user_id, PasswordChange(current_password=current, new_password=new)))
        is code
    )
    assert _live_refresh_tokens(user_id) == 1
    assert _login().access_token


def test_wrong_current_passwords_count_towards_the_lockout(sqlite_db):
    user_id = _register()
    wrong = PasswordChange(current_password="Wrong-Password-000", new_password=NEW_PASSWORD)
    for _ in range(get_settings().security.lockout_threshold):
        assert _code(lambda: credentials.change_password(user_id, wrong)) is ErrorCode.INVALID_CURRENT_PASSWORD
    assert _code(lambda: credentials.change_password(user_id, wrong)) is ErrorCode.ACCOUNT_LOCKED


# --- Profile and administration -------------------------------------------------------------------


def test_profile_update_sets_and_clears_the_name_with_an_audit_record(sqlite_db):
    user_id = _register(full_name="Ada")
    assert profiles.update_profile(user_id, UserUpdate(full_name="  Ada Lovelace ")).full_name == "Ada Lovelace"
    assert profiles.update_profile(user_id, UserUpdate(full_name=None)).full_name is None
    assert profiles.update_profile(user_id, UserUpdate()).full_name is None  # nothing given, nothing changed
    updates = [event.changes for event in _audit(user_id) if event.action == "profile_updated"]
    assert updates == [  # the third update changed nothing and left no record
        {"full_name": {"from": "Ada", "to": "Ada Lovelace"}},
        {"full_name": {"from": "Ada Lovelace", "to": None}},
    ]


def test_admin_changes_role_and_activation_of_others_only(sqlite_db):
    admin_id = _register_admin()
    user_id = _register()
    assert _code(lambda: admin.update_user_as_admin(admin_id, admin_id, UserAdminUpdate(role="user"))) is (
        ErrorCode.CANNOT_MODIFY_SELF
    )
    assert _code(lambda: admin.update_user_as_admin(admin_id, uuid.uuid4(), UserAdminUpdate(role="admin"))) is (
        ErrorCode.USER_NOT_FOUND
    )
    before = _login()
    promoted = admin.update_user_as_admin(admin_id, user_id, UserAdminUpdate(role="admin"))
    assert promoted.role == "admin"
    # Tokens issued under the old role end; the next login's carry the new one
    assert _code(lambda: _caller_role(before)) is ErrorCode.TOKEN_REVOKED
    assert _caller_role(_login()) == "admin"
    event = _audit(user_id)[-1]
    assert (event.action, event.actor_id, event.changes) == (
        "updated_by_admin",
        admin_id,
        {"role": {"from": "user", "to": "admin"}},
    )


def test_deactivation_ends_sessions_and_stops_tokens(sqlite_db):
    admin_id = _register_admin()
    user_id = _register()
    pair = _login()
    admin.update_user_as_admin(admin_id, user_id, UserAdminUpdate(is_active=False))
    assert _live_refresh_tokens(user_id) == 0
    assert _code(lambda: _caller_role(pair)) is ErrorCode.ACCOUNT_DISABLED
    assert _code(lambda: login_sessions.rotate(pair.refresh_token)) is ErrorCode.ACCOUNT_DISABLED
    # And reactivation does not bring them back: they were issued before the deactivation
    admin.update_user_as_admin(admin_id, user_id, UserAdminUpdate(is_active=True))
    assert _code(lambda: _caller_role(pair)) is ErrorCode.TOKEN_REVOKED
    assert _code(lambda: login_sessions.rotate(pair.refresh_token)) is ErrorCode.TOKEN_REVOKED
    assert _caller_role(_login()) == "user"


def test_user_listing_pages_newest_first_with_filters(sqlite_db):
    ids = [_register(f"user{n:02d}@example.com") for n in range(25)]
    admin_id = _register_admin()
    admin.update_user_as_admin(admin_id, ids[0], UserAdminUpdate(is_active=False))
    seen, cursor = [], None
    while True:
        page = reads.list_users(role="user", is_active=None, limit=10, cursor=cursor)
        seen += [item.id for item in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(ids))
    admins = reads.list_users(role="admin", is_active=None, limit=10, cursor=None).items
    assert [u.id for u in admins] == [admin_id]
    assert [u.id for u in reads.list_users(role=None, is_active=False, limit=10, cursor=None).items] == [ids[0]]
    assert _code(lambda: reads.list_users(role=None, is_active=None, limit=10, cursor="forged.cursor")) is (
        ErrorCode.INVALID_CURSOR
    )
