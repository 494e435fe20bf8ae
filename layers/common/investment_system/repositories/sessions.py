"""Sessions: one locked for a refresh, ending one, or every one of a user's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, Executable, Select, Update, select, update

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile
from investment_system.models.sessions import UserSession
from investment_system.repositories.base import Repository, execute_dml, revocation


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
        _write_lock(nobody) if dialect.name == "sqlite" else _locked(nobody),
        revocation(UserSession, UserSession.id == nobody, utcnow()),
        revocation(UserSession, UserSession.user_id == nobody, utcnow()),
    ]


# Compiled before a SnapStart snapshot (db.engine.precompile).
precompile(_primed)


class SessionRepository(Repository[UserSession]):
    model = UserSession

    def lock(self, session_id: uuid.UUID) -> None:
        """Lock the session until the transaction ends: a second transaction locking it waits for the first
        to end, then reads what it committed. Called first in a transaction, so that MySQL's snapshot is
        taken after the wait."""
        if self.session.get_bind().dialect.name == "sqlite":
            execute_dml(self.session, _write_lock(session_id))
        else:
            self.session.execute(_locked(session_id))

    def revoke(self, session_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(UserSession.id == session_id, now=now)

    def revoke_all_of_user(self, user_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(UserSession.user_id == user_id, now=now)

    def _revoke_where(self, condition: Any, *, now: datetime) -> int:
        return self.execute_update(revocation(UserSession, condition, now))
