"""Registration, login with lockout, and password changes: the services that check or set passwords.

The lockout counts attempts before their password is checked (`UserRepository.claim_login_attempt`):
once `LOCKOUT_THRESHOLD` attempts are outstanding, further ones are refused without a check, so
parallel guesses cannot get more passwords tried than the threshold. A success clears the count;
the failure that exhausts it locks the account for `LOCKOUT_MINUTES`.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import (
    AuthenticationError,
    Conflict,
    ErrorCode,
    PermissionDenied,
    RequestError,
    ValidationFailed,
)
from investment_system.models.users import User
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.accounts.users import UserRepository
from investment_system.schemas.auth import Credentials, Registration, TokenPair
from investment_system.schemas.users import (
    ImportedUser,
    PasswordChange,
    Role,
    UserOut,
    normalize_email,
    prime_address_validation,
)
from investment_system.services.accounts.login_sessions import start_session
from investment_system.services.accounts.passwords import (
    enforce_password_policy,
    hash_password,
    needs_rehash,
    verify_against_dummy,
    verify_password,
)
from investment_system.services.accounts.profiles import audit_snapshot
from investment_system.services.accounts.reads import existing_user, get_profile
from investment_system.services.accounts.revocation import end_every_session
from investment_system.services.system.audit import record_change
from investment_system.settings import get_settings
from investment_system.snapstart import before_snapshot

before_snapshot(prime_address_validation)  # what a registration's first address check would load


def register_user(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str | None = None,
    role: Role = Role.USER,
    actor_id: uuid.UUID | None = None,
) -> User:
    """Create an account inside the caller's unit of work: everything a new user gets is added here,
    in the same transaction. 422 INVALID_EMAIL, PASSWORD_TOO_WEAK, 409 EMAIL_ALREADY_REGISTERED."""
    email = _registrable(email)
    enforce_password_policy(password, email)
    user = _add_user(session, email=email, password_hash=hash_password(password), full_name=full_name, role=role)
    record_change(
        session,
        entity_type="user",
        entity_id=user.id,
        action="created",
        actor_id=actor_id or user.id,
        after=audit_snapshot(user),
    )
    add_metric(MetricName.SIGNUPS)
    return user


def import_user(imported: ImportedUser) -> UserOut:
    """An account moved from the previous system with its bcrypt hash (`invest import-users`): its
    first login verifies that hash and rehashes the password with argon2id. 422 INVALID_EMAIL, 409
    EMAIL_ALREADY_REGISTERED."""
    with unit_of_work() as session:
        email = _registrable(imported.email)
        user = _add_user(
            session, email=email, password_hash=imported.password_hash, full_name=imported.full_name, role=Role.USER
        )
        record_change(
            session, entity_type="user", entity_id=user.id, action="imported", actor_id=None, after=audit_snapshot(user)
        )
        return UserOut.model_validate(user)


def _registrable(email: str) -> str:
    try:
        return normalize_email(email)
    except ValueError as error:
        raise ValidationFailed(ErrorCode.INVALID_EMAIL, str(error)) from None


def _add_user(session: Session, *, email: str, password_hash: str, full_name: str | None, role: Role) -> User:
    users = UserRepository(session)
    if users.by_email(email) is not None:
        raise Conflict(ErrorCode.EMAIL_ALREADY_REGISTERED)
    user = User(
        email=email, password_hash=password_hash, full_name=full_name, role=role, is_active=True, failed_login_count=0
    )
    try:
        users.add(user)
    except IntegrityError:  # registered concurrently, between the check and the insert
        raise Conflict(ErrorCode.EMAIL_ALREADY_REGISTERED) from None
    return user


def register(registration: Registration) -> UserOut:
    with unit_of_work() as session:
        user = register_user(
            session, email=registration.email, password=registration.password, full_name=registration.full_name
        )
        return UserOut.model_validate(user)


def create_admin(email: str, password: str) -> UserOut:
    """An administrator account (`invest create-admin`: the first admin, made by an operator)."""
    with unit_of_work() as session:
        return UserOut.model_validate(register_user(session, email=email, password=password, role=Role.ADMIN))


def login(credentials: Credentials) -> TokenPair:
    """A token pair for the right password; the same 401 for an unknown email and a wrong password."""
    try:
        user = _check_password(credentials.email, credentials.password)
    except PermissionDenied:  # locked
        add_metric(MetricName.LOGINS_FAILED)
        raise
    if user is None:
        add_metric(MetricName.LOGINS_FAILED)
        raise AuthenticationError(ErrorCode.INVALID_CREDENTIALS)
    now = utcnow()
    with unit_of_work() as session:
        users = UserRepository(session)
        users.clear_failed_logins(user)
        if user.is_active:
            _upgrade_hash_if_weaker(session, users, user, credentials.password)
            pair = start_session(session, user, now=now)
    if not user.is_active:
        add_metric(MetricName.LOGINS_FAILED)
        raise PermissionDenied(ErrorCode.ACCOUNT_DISABLED)
    add_metric(MetricName.LOGINS_SUCCEEDED)
    return pair


def change_password(user_id: uuid.UUID, change: PasswordChange) -> None:
    """Set a new password after checking the current one (attempts count towards the lockout);
    every token issued to the user before ends."""
    email = get_profile(user_id).email
    enforce_password_policy(change.new_password, email)
    if change.new_password == change.current_password:
        raise ValidationFailed(ErrorCode.PASSWORD_REUSED)
    if _check_password(email, change.current_password) is None:
        raise RequestError(ErrorCode.INVALID_CURRENT_PASSWORD)
    new_hash = hash_password(change.new_password)
    with unit_of_work() as session:
        users = UserRepository(session)
        user = existing_user(users, user_id, for_update=True)
        users.clear_failed_logins(user)
        users.update(user, password_hash=new_hash)
        revoked = end_every_session(session, user, now=utcnow())
        record_change(session, entity_type="user", entity_id=user_id, action="password_changed", actor_id=user_id)
    logger.info("Password changed; every session ended", extra={"user_id": str(user_id), "tokens_revoked": revoked})


def _check_password(email: str, password: str) -> User | None:
    """The account when `password` is its password, else None (also for an unknown email, after the
    same argon2 work); 423 ACCOUNT_LOCKED when the account takes no more attempts now."""
    security = get_settings().security
    now = utcnow()
    with unit_of_work() as session:
        users = UserRepository(session)
        # The conditional UPDATE comes first: it takes the row's write lock before anything is read.
        claimed = users.claim_login_attempt(email, threshold=security.lockout_threshold, now=now)
        user = users.by_email(email)
    if user is None:
        verify_against_dummy(password)
        return None
    if not claimed:
        raise _locked(user.locked_until, now)
    if verify_password(user.password_hash, password):
        return user
    until = utcnow() + timedelta(minutes=security.lockout_minutes)
    with unit_of_work() as session:
        locked = UserRepository(session).lock_if_exhausted(user, threshold=security.lockout_threshold, until=until)
        if locked:
            record_change(
                session,
                entity_type="user",
                entity_id=user.id,
                action="locked",
                actor_id=None,
                after={"locked_until": until.isoformat()},
            )
    if locked:
        add_metric(MetricName.LOCKOUTS)
        logger.warning("Account locked after repeated failed logins", extra={"user_id": str(user.id)})
    return None


def _locked(locked_until: datetime | None, now: datetime) -> PermissionDenied:
    if locked_until is not None and locked_until > now:
        seconds = math.ceil((locked_until - now).total_seconds())
    else:  # the last claimed attempts are still being checked; the lock they may set lasts this long
        seconds = get_settings().security.lockout_minutes * 60
    return PermissionDenied(ErrorCode.ACCOUNT_LOCKED, retry_after=seconds)


def _upgrade_hash_if_weaker(session: Session, users: UserRepository, user: User, password: str) -> None:
    """Rehash with the current argon2 parameters when the stored hash used weaker ones (or is bcrypt)."""
    if not needs_rehash(user.password_hash):
        return
    users.update(existing_user(users, user.id), password_hash=hash_password(password))
    record_change(session, entity_type="user", entity_id=user.id, action="password_rehashed", actor_id=user.id)
