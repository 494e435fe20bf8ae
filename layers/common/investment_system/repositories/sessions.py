"""Sessions: ending one, or every one of a user's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import update

from investment_system.models.sessions import UserSession
from investment_system.repositories.base import Repository


class SessionRepository(Repository[UserSession]):
    model = UserSession

    def revoke(self, session_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(UserSession.id == session_id, now=now)

    def revoke_all_of_user(self, user_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(UserSession.user_id == user_id, now=now)

    def _revoke_where(self, condition: Any, *, now: datetime) -> int:
        statement = update(UserSession).where(condition, UserSession.revoked_at.is_(None)).values(revoked_at=now)
        return self.execute_update(statement)
