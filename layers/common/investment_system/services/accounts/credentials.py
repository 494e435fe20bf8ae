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

from investment_system.db import single_statement_write, unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import (
    AuthenticationError,
    Conflict,
    ErrorCode,
    PermissionDenied,
    RequestError,
    ValidationFailed,
)
from investment_system.models.users import User as UserRow
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.accounts.users import UserRepository, epoch_ended, new_user
from investment_system.repositories.base import insertion
from investment_system.schemas.auth import LoginCredentials, TokenPair, UserRegistration
from investment_system.schemas.users import (
    ImportedUser,
    PasswordChange,
    Role,
    User,
    normalize_email,
)
from investment_system.services.accounts.login_sessions import open_session, start_session
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
from investment_system.services.system.audit import audit_row, record_change, write_audited
from investment_system.services.system.feature_flags import Flag, flag_enabled
from investment_system.settings import get_settings


def register_user(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str | None = None,
    role: Role = Role.USER,
    actor_id: uuid.UUID | None = None,
) -> UserRow:
    """Create an account inside the caller's unit of work: everything a new user gets is added here,
    in the same transaction. 422 INVALID_EMAIL, PASSWORD_TOO_WEAK, 409 EMAIL_ALREADY_REGISTERED."""
    email = _registrable(email)
    enforce_password_policy(password, email)
    user = new_user(email=email, password_hash=hash_password(password), full_name=full_name, role=role, now=utcnow())
    _add_user(session, user, action="created", actor_id=actor_id or user.id)
    add_metric(MetricName.SIGNUPS)
    return user


def import_user(imported: ImportedUser) -> User:
    """An account moved from the previous system with its bcrypt hash (`invest import-users`): its
    first login verifies that hash and rehashes the password with argon2id. 422 INVALID_EMAIL, 409
    EMAIL_ALREADY_REGISTERED."""
    with unit_of_work() as session:
        email = _registrable(imported.email)
        user = new_user(
            email=email,
            password_hash=imported.password_hash,
            full_name=imported.full_name,
            role=Role.USER,
            now=utcnow(),
        )
        _add_user(session, user, action="imported", actor_id=None)
        return User.model_validate(user)


def _registrable(email: str) -> str:
    try:
        return normalize_email(email)
    except ValueError as error:
        raise ValidationFailed(ErrorCode.INVALID_EMAIL, str(error)) from None


def _add_user(session: Session, user: UserRow, *, action: str, actor_id: uuid.UUID | None) -> None:
    """Insert the new user with its audit row (one statement on PostgreSQL); 409 when the e-mail is taken,
    which the insert itself finds (the unique constraint): no concurrent registration slips between a check
    and the insert."""
    try:
        write_audited(
            session,
            insertion(user),
            entity_type="user",
            entity_id=user.id,
            action=action,
            actor_id=actor_id,
            after=audit_snapshot(user),
        )
    except IntegrityError:
        raise Conflict(ErrorCode.EMAIL_ALREADY_REGISTERED) from None


def register(registration: UserRegistration) -> User:
    """POST /v1/auth/register: 403 REGISTRATION_CLOSED while the `registration_open` flag is off."""
    if not flag_enabled(Flag.REGISTRATION_OPEN):
        raise PermissionDenied(ErrorCode.REGISTRATION_CLOSED)
    with single_statement_write() as session:
        user = register_user(
            session, email=registration.email, password=registration.password, full_name=registration.full_name
        )
        return User.model_validate(user)


def create_admin(email: str, password: str) -> User:
    """An administrator account (`invest create-admin`: the first admin, made by an operator)."""
    with unit_of_work() as session:
        return User.model_validate(register_user(session, email=email, password=password, role=Role.ADMIN))


def login(credentials: LoginCredentials) -> TokenPair:
    """A token pair for the right password; the same 401 for an unknown email and a wrong password."""
    try:
        user = _check_password(credentials.password, credentials.email)
    except PermissionDenied:  # locked
        add_metric(MetricName.LOGINS_FAILED)
        raise
    if user is None:
        add_metric(MetricName.LOGINS_FAILED)
        raise AuthenticationError(ErrorCode.INVALID_CREDENTIALS)
    now = utcnow()
    if user.is_active and not needs_rehash(user.password_hash):
        pair = open_session(user, now=now)
    else:
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
    every token issued to the user before ends. On PostgreSQL, two statements after the token check:
    the attempt counted with the row read, then the change with everything it ends and its audit row."""
    email = get_profile(user_id).email  # the token check's read
    enforce_password_policy(change.new_password, email)
    if change.new_password == change.current_password:
        raise ValidationFailed(ErrorCode.PASSWORD_REUSED)
    if _check_password(change.current_password, user_id) is None:
        raise RequestError(ErrorCode.INVALID_CURRENT_PASSWORD)
    new_hash = hash_password(change.new_password)
    audit = audit_row(entity_type="user", entity_id=user_id, action="password_changed", actor_id=user_id)
    # (the current password was right: the attempts it counted are forgotten)
    ending = epoch_ended(user_id, {"password_hash": new_hash, "failed_login_count": 0, "locked_until": None}, utcnow())
    with single_statement_write() as session:
        revoked = end_every_session(session, ending, user_id, active=True, now=utcnow(), audit=audit)
    logger.info("Password changed; every session ended", extra={"user_id": str(user_id), "tokens_revoked": revoked})


def _check_password(password: str, account: str | uuid.UUID) -> UserRow | None:
    """The account (its email, or its id) when `password` is its password, else None (also for an unknown
    account, after the same argon2 work); 423 ACCOUNT_LOCKED when the account takes no more attempts now."""
    security = get_settings().security
    now = utcnow()
    with single_statement_write() as session:
        # The count comes first: it takes the row's write lock before anything is read.
        users = UserRepository(session)
        threshold = security.lockout_threshold
        if isinstance(account, uuid.UUID):
            user, claimed = users.claimed_password_check(account, threshold=threshold, now=now)
        else:
            user, claimed = users.claimed_login(account, threshold=threshold, now=now)
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


def _upgrade_hash_if_weaker(session: Session, users: UserRepository, user: UserRow, password: str) -> None:
    """Rehash with the current argon2 parameters when the stored hash used weaker ones (or is bcrypt)."""
    if not needs_rehash(user.password_hash):
        return
    users.update(existing_user(users, user.id), password_hash=hash_password(password))
    record_change(session, entity_type="user", entity_id=user.id, action="password_rehashed", actor_id=user.id)
