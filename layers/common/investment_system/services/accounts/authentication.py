"""The check every authenticated request makes: the token's user and session, read now.

A token stops working before its expiry when its session ended or when the user's token epoch moved
past the one it carries (services/accounts/revocation.py says what ends them). `caller_role` reads both
with the user's role, in one query of those columns alone, run on its own: no transaction, since under
READ COMMITTED the same query inside the change's transaction would see just what it sees alone, and would
cost that transaction's BEGIN when the change needs none (db.engine.single_statement_write). It is all
that the authenticated functions import of the accounts' services: the user and session tables, not the
refresh tokens'.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from typing import cast

from investment_system.db.engine import read_only
from investment_system.errors import AuthenticationError, ErrorCode, PermissionDenied
from investment_system.models.sessions import UserSession
from investment_system.models.users import User
from investment_system.repositories.accounts.users import UserRepository

# The caller's row the request's token check read (`checked_caller`), until the request ends.
_checked_caller: ContextVar[User | None] = ContextVar("checked_caller", default=None)


def caller_role(user_id: uuid.UUID, session_id: uuid.UUID, epoch: int) -> str:
    """The role of the holder of a verified access token, read now: 403 ACCOUNT_DISABLED for a
    deactivated user, 401 TOKEN_REVOKED once the token's session or epoch has ended. So a
    deactivation, a logout or a password change stops access tokens at once, and a role change
    takes effect at once."""

    with read_only() as session:
        state = UserRepository(session).token_state(user_id, session_id)
    if state is None:  # the user is gone
        raise AuthenticationError(ErrorCode.TOKEN_INVALID)
    user = state.user
    _refuse_ended(user.is_active, user.token_epoch, epoch, ended=state.session_id is None or state.revoked_at)
    _checked_caller.set(user)
    return user.role


def checked_caller(user_id: uuid.UUID) -> User | None:
    """The caller's row as this request's token check read it (without its password hash), when the
    caller is `user_id`: a read of the caller's own profile needs no statement of its own."""
    user = _checked_caller.get()
    return user if user is not None and user.id == user_id else None


def end_of_request() -> None:
    """The request is answered: the checked caller is forgotten."""
    _checked_caller.set(None)


def live_session(found: tuple[User, UserSession | None] | None, epoch: int) -> tuple[User, UserSession]:
    """The user and session a token names, when the token may still be used."""
    if found is None:  # the user is gone
        raise AuthenticationError(ErrorCode.TOKEN_INVALID)
    user, user_session = found
    _refuse_ended(user.is_active, user.token_epoch, epoch, ended=user_session is None or user_session.revoked_at)
    return user, cast(UserSession, user_session)


def _refuse_ended(is_active: bool, token_epoch: int, epoch: int, *, ended: object) -> None:
    """403 ACCOUNT_DISABLED for a deactivated user; 401 TOKEN_REVOKED for another epoch or an `ended`
    session (missing, or revoked)."""
    if not is_active:
        raise PermissionDenied(ErrorCode.ACCOUNT_DISABLED)
    if token_epoch != epoch or ended:
        raise AuthenticationError(ErrorCode.TOKEN_REVOKED)
