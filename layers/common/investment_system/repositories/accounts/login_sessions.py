"""Sessions: one locked for a refresh, ending one, or every one of a user's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, Executable, Select, Update, select, update

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile
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


def _primed(dialect: Dialect) -> list[Executable]:
    """A refresh's lock of its session, a logout's end of it, a password change's end of them all."""
    nobody = uuid.UUID(int=0)
    return [
        *([_write_lock(nobody)] if dialect.name == "sqlite" else [_user_shared(nobody), _locked(nobody)]),
        revocation(UserSession, UserSession.id == nobody, utcnow()),
        revocation(UserSession, UserSession.user_id == nobody, utcnow()),
    ]


# Compiled before a SnapStart snapshot (db.engine.precompile).
precompile(_primed)


class SessionRepository(Repository[UserSession]):
    model = UserSession

    def lock(self, session_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Lock the user's session until the transaction ends: a second transaction locking it waits for the
        first to end, then reads what it committed. Called first in a transaction, so that MySQL's snapshot
        is taken after the wait.

        The user's row is share-locked first, as the refresh token's INSERT would later: the user's row,
        then the session's is the order in which ending every session of a user locks them
        (services/accounts/revocation.py), so a refresh and a password change never deadlock."""
        if self.session.get_bind().dialect.name == "sqlite":
            execute_dml(self.session, _write_lock(session_id))
        else:
            self.session.execute(_user_shared(user_id))
            self.session.execute(_locked(session_id))

    def revoke(self, session_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(UserSession.id == session_id, now=now)

    def revoke_all_of_user(self, user_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(UserSession.user_id == user_id, now=now)

    def _revoke_where(self, condition: Any, *, now: datetime) -> int:
        return self.execute_update(revocation(UserSession, condition, now))
