"""Refresh tokens: lookup by hash, and revocation of one token, a family, or all of a user's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Update, select, update

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile
from investment_system.models.refresh_tokens import RefreshToken
from investment_system.repositories.base import Repository, revocation


def _by_hash(token_hash: str) -> Select[RefreshToken]:
    return select(RefreshToken).where(RefreshToken.token_hash == token_hash)


def _revoke_one(token_id: uuid.UUID, now: datetime, replaced_by: uuid.UUID | None) -> Update:
    return (
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, replaced_by=replaced_by)
    )


# Compiled before a SnapStart snapshot: the lookup each refresh and logout starts with, a rotation's
# revocation of the token it replaces, a logout's of the token's family, a password change's of all.
precompile(
    lambda _: [
        _by_hash(""),
        _revoke_one(uuid.UUID(int=0), utcnow(), uuid.UUID(int=0)),
        revocation(RefreshToken, RefreshToken.family_id == uuid.UUID(int=0), utcnow()),
        revocation(RefreshToken, RefreshToken.user_id == uuid.UUID(int=0), utcnow()),
    ]
)


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    def by_hash(self, token_hash: str) -> RefreshToken | None:
        return self.session.scalars(_by_hash(token_hash)).first()

    def revoke(self, token: RefreshToken, *, now: datetime, replaced_by: uuid.UUID | None = None) -> bool:
        """Revoke one token unless it already is; True when this call revoked it (atomic on every backend,
        so of two requests rotating the same token only one wins)."""
        return self.execute_update(_revoke_one(token.id, now, replaced_by)) == 1

    def current(self, token_id: uuid.UUID) -> RefreshToken:
        """The token as committed now, locked: after a conditional update lost a race, what the winner did
        (a plain read could answer from the transaction's snapshot on MySQL)."""
        statement = (
            select(RefreshToken)
            .where(RefreshToken.id == token_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(statement).one()

    def revoke_family(self, family_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(RefreshToken.family_id == family_id, now=now)

    def revoke_all_of_user(self, user_id: uuid.UUID, *, now: datetime) -> int:
        return self._revoke_where(RefreshToken.user_id == user_id, now=now)

    def _revoke_where(self, condition: Any, *, now: datetime) -> int:
        return self.execute_update(revocation(RefreshToken, condition, now))
