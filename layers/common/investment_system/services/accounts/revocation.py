"""What ends tokens before they expire.

A token stops working before its expiry when its session ended (logout, reuse of a rotated refresh
token) or when the user's token epoch moved past the one it carries (password change, deactivation,
role change: every session of the user ends). A session's end is also its stream's: its unused
tickets stop working and its open connections are closed (services/stream/events.py). The check
every authenticated request makes is services/accounts/authentication.py; issuing tokens, which reads the plan
in force, is services/accounts/login_sessions.py. `logout` ends sessions and issues none.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import AuthenticationError, ErrorCode, PermissionDenied
from investment_system.models.users import User
from investment_system.repositories.accounts.login_sessions import SessionRepository
from investment_system.repositories.accounts.refresh_tokens import RefreshTokenRepository
from investment_system.repositories.accounts.users import UserRepository
from investment_system.services.accounts.tokens import verify_refresh_token
from investment_system.services.stream.events import end_session_streams, end_user_streams


def end_session(session: Session, session_id: uuid.UUID, *, now: datetime) -> int:
    """End one session: its tokens stop working, its stream tickets too, and its stream connections are
    closed. How many of its refresh tokens were live."""
    SessionRepository(session).revoke(session_id, now=now)
    revoked = RefreshTokenRepository(session).revoke_family(session_id, now=now)
    end_session_streams(session, session_id)
    return revoked


def end_every_session(session: Session, user: User, *, now: datetime) -> int:
    """End every token issued to the user so far (password change, deactivation, role change): the
    token epoch moves on and every session ends. `user` must be locked (read for update). How many
    refresh tokens were live."""
    UserRepository(session).update(user, token_epoch=user.token_epoch + 1)
    SessionRepository(session).revoke_all_of_user(user.id, now=now)
    revoked = RefreshTokenRepository(session).revoke_all_of_user(user.id, now=now)
    end_user_streams(session, user.id, ErrorCode.TOKEN_REVOKED if user.is_active else ErrorCode.ACCOUNT_DISABLED)
    return revoked


def logout(user_id: uuid.UUID, session_id: uuid.UUID, refresh_token: str) -> None:
    """End the caller's session (the access token's) and the session of one of the caller's refresh tokens.

    As in token revocation (RFC 7009), a refresh token that is malformed, expired or unknown is simply
    not live, so there is nothing more to end and no error; another user's live token is refused.
    """
    ended = {session_id}
    try:
        claims = verify_refresh_token(refresh_token)
    except AuthenticationError:
        claims = None
    if claims is not None:
        if claims["sub"] != str(user_id):
            raise PermissionDenied(ErrorCode.PERMISSION_DENIED, "This refresh token belongs to another user.")
        ended.add(uuid.UUID(claims["sid"]))
    now = utcnow()
    with unit_of_work() as session:
        for ending in ended:
            end_session(session, ending, now=now)
