"""The check every authenticated request makes: the token's user and session, read now.

A token stops working before its expiry when its session ended or when the user's token epoch moved
past the one it carries (services/accounts/revocation.py says what ends them). `caller_role` reads both with
the user, in one query; it is all that the authenticated functions import of the accounts' services:
the user and session tables, not the refresh tokens'.
"""

from __future__ import annotations

import uuid

from investment_system.db import unit_of_work
from investment_system.errors import AuthenticationError, ErrorCode, PermissionDenied
from investment_system.models.sessions import UserSession
from investment_system.models.users import User
from investment_system.repositories.accounts.users import UserRepository


def caller_role(user_id: uuid.UUID, session_id: uuid.UUID, epoch: int) -> str:
    """The role of the holder of a verified access token, read now: 403 ACCOUNT_DISABLED for a
    deactivated user, 401 TOKEN_REVOKED once the token's session or epoch has ended. So a
    deactivation, a logout or a password change stops access tokens at once, and a role change
    takes effect at once."""
    with unit_of_work() as session:
        user, _ = live_session(UserRepository(session).with_session(user_id, session_id), epoch)
        return user.role


def live_session(found: tuple[User, UserSession | None] | None, epoch: int) -> tuple[User, UserSession]:
    """The user and session a token names, when the token may still be used."""
    if found is None:  # the user is gone
        raise AuthenticationError(ErrorCode.TOKEN_INVALID)
    user, user_session = found
    if not user.is_active:
        raise PermissionDenied(ErrorCode.ACCOUNT_DISABLED)
    if user.token_epoch != epoch or user_session is None or user_session.revoked_at is not None:
        raise AuthenticationError(ErrorCode.TOKEN_REVOKED)
    return user, user_session
