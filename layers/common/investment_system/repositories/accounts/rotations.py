"""A refresh token's rotation: what it reads of the token, its session and user, locked."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import and_, bindparam, select

from investment_system.db.engine import dialect_name
from investment_system.models.billing import Subscription
from investment_system.models.refresh_tokens import RefreshToken
from investment_system.models.sessions import UserSession
from investment_system.models.users import User
from investment_system.repositories.accounts.login_sessions import SessionRepository
from investment_system.repositories.base import SessionBoundRepository

# What a refresh reads, on PostgreSQL in one statement: the user, the token's session and the token itself
# (the rows the rotation changes, locked), and the subscription whose plan the new access token carries.
_ROTATION = (
    select(User, UserSession, RefreshToken, Subscription)
    .join(UserSession, and_(UserSession.id == bindparam("session_id"), UserSession.user_id == User.id))
    .join(
        RefreshToken,
        and_(
            RefreshToken.token_hash == bindparam("token_hash"),
            RefreshToken.family_id == UserSession.id,
            RefreshToken.user_id == User.id,
        ),
    )
    .outerjoin(Subscription, Subscription.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)
_LOCKED_ROTATION = _ROTATION.with_for_update(of=[UserSession, RefreshToken])


class Rotation(NamedTuple):
    """What a refresh token's rotation starts from: its user, its session, its stored row and the user's
    subscription (None: on free without one)."""

    user: User
    session: UserSession
    token: RefreshToken
    subscription: Subscription | None


class RotationRepository(SessionBoundRepository):
    def locked_for_rotation(self, session_id: uuid.UUID, user_id: uuid.UUID, token_hash: str) -> Rotation | None:
        """The session of a refresh token being rotated, locked until the transaction ends, with its user,
        the token's row (by its hash; None when it is not a token of that user and session) and the user's
        subscription. A second rotation of the session waits for the first to end, then reads what it
        committed.

        On PostgreSQL one statement, which locks the session's and the token's rows (re-read once a lock
        it waited for is released) and not the user's: nothing else locks a user's row in a mode that a
        new token's foreign key waits for (`Repository.get` locks FOR NO KEY UPDATE). Elsewhere the locks
        come first, then the reads."""
        values = {"session_id": session_id, "user_id": user_id, "token_hash": token_hash}
        if dialect_name(self.session) == "postgresql":  # (also in a replay: SQLite runs it without its locks)
            row = self.session.execute(_LOCKED_ROTATION, values).first()
        else:
            SessionRepository(self.session).lock(session_id, user_id)
            row = self.session.execute(_ROTATION, values).first()
        return None if row is None else Rotation(*row)
