"""Sessions: ending one, or every one of a user's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile
from investment_system.models.sessions import UserSession
from investment_system.repositories.base import Repository, revocation

# Compiled before a SnapStart snapshot: a logout's end of its session, a password change's of them all.
precompile(
    lambda _: [
        revocation(UserSession, UserSession.id == uuid.UUID(int=0), utcnow()),
        revocation(UserSession, UserSession.user_id == uuid.UUID(int=0), utcnow()),
    ]
)


class SessionRepository(Repository[UserSession]):
    model = UserSession

    def revoke(self, session_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(UserSession.id == session_id, now=now)

    def revoke_all_of_user(self, user_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(UserSession.user_id == user_id, now=now)

    def _revoke_where(self, condition: Any, *, now: datetime) -> int:
        return self.execute_update(revocation(UserSession, condition, now))
