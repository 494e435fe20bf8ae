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
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Update
from sqlalchemy.orm import Session

from investment_system.db import single_statement_write
from investment_system.db.base import utcnow
from investment_system.errors import AuthenticationError, ErrorCode, PermissionDenied
from investment_system.repositories.accounts.login_sessions import sessions_revocation, user_sessions_revocation
from investment_system.repositories.accounts.refresh_tokens import families_revocation, user_tokens_revocation
from investment_system.services.accounts.tokens import verify_refresh_token
from investment_system.services.stream.events import end_session_streams, end_user_streams

if TYPE_CHECKING:  # (the audit trail's table is mapped by the functions that write it, not by logout's)
    from investment_system.models.audit import AuditEvent


def end_sessions(session: Session, user_id: uuid.UUID, session_ids: Collection[uuid.UUID], *, now: datetime) -> int:
    """End some of the user's sessions: their tokens stop working, their stream tickets too, and their
    stream connections are closed; one statement on PostgreSQL. How many of their refresh tokens were live."""
    revocations = [sessions_revocation(session_ids, now), families_revocation(session_ids, now)]
    _sessions, revoked = end_session_streams(session, user_id, session_ids, with_writes=revocations)
    return revoked


def end_every_session(
    session: Session, change: Update, user_id: uuid.UUID, *, active: bool, now: datetime, audit: AuditEvent
) -> int | None:
    """End every token issued to the user so far (password change, deactivation, role change) with `change`,
    the user's UPDATE that makes the change and moves the token epoch on (`repositories.accounts.users`):
    every session ends with its stream, and the change's `audit` row is added, only when `change` writes
    its row (it may be conditional on the row being as read); one statement on PostgreSQL. `active`:
    whether the user is active once changed (their open connections are closed with TOKEN_REVOKED, else
    ACCOUNT_DISABLED). How many refresh tokens were live; None when `change` wrote nothing."""
    code = ErrorCode.TOKEN_REVOKED if active else ErrorCode.ACCOUNT_DISABLED
    revocations = [user_sessions_revocation(user_id, now), user_tokens_revocation(user_id, now)]
    made = end_user_streams(session, user_id, code, with_writes=revocations, gate=change, records=[audit])
    if made is None:
        return None
    _sessions, revoked = made
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
    with single_statement_write() as session:
        end_sessions(session, user_id, ended, now=utcnow())
