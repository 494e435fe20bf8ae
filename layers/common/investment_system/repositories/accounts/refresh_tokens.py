"""Refresh tokens: lookup by hash, a family's live token replaced by its successor, and revocation of a
family or of all of a user's."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Select, Update, select

from investment_system.models.refresh_tokens import RefreshToken
from investment_system.repositories.base import Repository, revocation


def _by_hash(token_hash: str) -> Select[RefreshToken]:
    return select(RefreshToken).where(RefreshToken.token_hash == token_hash)


def _live_of_family(family_id: uuid.UUID) -> Select[uuid.UUID]:
    return select(RefreshToken.id).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))


def _replacement(token_ids: Sequence[uuid.UUID], now: datetime, successor: uuid.UUID) -> Update:
    return revocation(RefreshToken, RefreshToken.id.in_(token_ids), now).values(replaced_by=successor)


def families_revocation(family_ids: Collection[uuid.UUID], now: datetime) -> Update:
    """The revocation of the live refresh tokens of these families (a family is a session's tokens)."""
    return revocation(RefreshToken, RefreshToken.family_id.in_(family_ids), now)


def user_tokens_revocation(user_id: uuid.UUID, now: datetime) -> Update:
    """The revocation of every live refresh token of the user."""
    return revocation(RefreshToken, RefreshToken.user_id == user_id, now)


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    def by_hash(self, token_hash: str) -> RefreshToken | None:
        return self.session.scalars(_by_hash(token_hash)).first()

    def replace_live(self, family_id: uuid.UUID, *, now: datetime, successor: uuid.UUID) -> int:
        """Revoke the family's live refresh token, replaced by `successor` (about to be issued): whatever
        the rotation, a family keeps one live token, the last issued. How many were live.

        The caller holds the family's session locked (SessionRepository.lock). The tokens are revoked by
        primary key: on MySQL an UPDATE through the family's index would also lock the index's gaps,
        where other sessions' tokens are inserted, and parallel refreshes of two sessions deadlocked."""
        live = self.session.scalars(_live_of_family(family_id)).all()
        return self.execute_update(_replacement(live, now, successor)) if live else 0
