"""Refresh tokens: lookup by hash, a family's live token replaced by its successor, and revocation of a
family or of all of a user's."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, Select, Update, select

from investment_system.db.engine import compiles_only, dialect_name
from investment_system.models.refresh_tokens import RefreshToken
from investment_system.repositories.base import Repository, execute_dml, insertion, revocation


def _live_of_family(family_id: uuid.UUID) -> Select[uuid.UUID]:
    return select(RefreshToken.id).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))


def _replacement(tokens: ColumnElement[bool], now: datetime, successor: uuid.UUID) -> Update:
    return revocation(RefreshToken, tokens, now).values(replaced_by=successor)


def families_revocation(family_ids: Collection[uuid.UUID], now: datetime) -> Update:
    """The revocation of the live refresh tokens of these families (a family is a session's tokens)."""
    return revocation(RefreshToken, RefreshToken.family_id.in_(family_ids), now)


def user_tokens_revocation(user_id: uuid.UUID, now: datetime) -> Update:
    """The revocation of every live refresh token of the user."""
    return revocation(RefreshToken, RefreshToken.user_id == user_id, now)


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    def replace_live_with(self, successor: RefreshToken, *, now: datetime) -> None:
        """Add `successor` in place of its family's live refresh token, revoked as replaced by it: whatever
        the rotation, a family keeps one live token, the last issued. The caller holds the family's session
        locked (SessionRepository.locked_for_rotation).

        On PostgreSQL one statement, whose WITH's UPDATE does not see the row its INSERT adds. Elsewhere the
        live tokens are read, then revoked by primary key: on MySQL an UPDATE through the family's index
        would also lock the index's gaps, where other sessions' tokens are inserted, and parallel refreshes
        of two sessions deadlocked."""
        family_id, add = successor.family_id, insertion(successor)
        if dialect_name(self.session) == "postgresql":
            replaced = _replacement(RefreshToken.family_id == family_id, now, successor.id)
            statement = add.add_cte(replaced.cte("replaced"))
            if not compiles_only(self.session, statement):
                execute_dml(self.session, statement)
                return
        live = self.session.scalars(_live_of_family(family_id)).all()
        if live:
            self.execute_update(_replacement(RefreshToken.id.in_(live), now, successor.id))
        execute_dml(self.session, add)
