"""Sessions: one locked for a refresh, ending one, or every one of a user's."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, Update, select, update

from investment_system.db.engine import dialect_name
from investment_system.models.sessions import UserSession
from investment_system.models.users import User
from investment_system.repositories.base import Repository, execute_dml, revocation


def _user_shared(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """The lock the foreign key of a new refresh token takes on its user's row: shared (PostgreSQL's
    FOR KEY SHARE, MySQL's LOCK IN SHARE MODE)."""
    return select(User.id).where(User.id == user_id).with_for_update(read=True, key_share=True)


def _locked(session_id: uuid.UUID) -> Select[uuid.UUID]:
    return select(UserSession.id).where(UserSession.id == session_id).with_for_update()


def _write_lock(session_id: uuid.UUID) -> Update:
    """SQLite ignores FOR UPDATE and begins a transaction at its first write: this no-op UPDATE of the
    session takes the database's write lock."""
    return update(UserSession).where(UserSession.id == session_id).values(updated_at=UserSession.updated_at)


def sessions_revocation(session_ids: Collection[uuid.UUID], now: datetime) -> Update:
    """The revocation of these sessions (those not revoked yet)."""
    return revocation(UserSession, UserSession.id.in_(session_ids), now)


def user_sessions_revocation(user_id: uuid.UUID, now: datetime) -> Update:
    """The revocation of every session of the user."""
    return revocation(UserSession, UserSession.user_id == user_id, now)


class SessionRepository(Repository[UserSession]):
    model = UserSession

    def lock(self, session_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Lock the user's session until the transaction ends: a second transaction locking it waits for the
        first to end, then reads what it committed. Called first in a transaction, so that MySQL's snapshot
        is taken after the wait.

        The user's row is share-locked first, as the refresh token's INSERT would later: the user's row,
        then the session's is the order in which ending every session of a user locks them
        (services/accounts/revocation.py), so a refresh and a password change never deadlock."""
        if dialect_name(self.session) == "sqlite":
            execute_dml(self.session, _write_lock(session_id))
        else:
            self.session.execute(_user_shared(user_id))
            self.session.execute(_locked(session_id))
