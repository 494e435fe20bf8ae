"""Users: lookups, the admin listing, and the atomic failed-login bookkeeping behind the lockout."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, Update, bindparam, select, update
from sqlalchemy.orm import defer

from investment_system.db.base import new_id
from investment_system.db.engine import compiles_only, dialect_name
from investment_system.models.sessions import UserSession
from investment_system.models.users import User
from investment_system.repositories.base import Repository

LISTING_SCOPE = "admin-users"
# Login bookkeeping is not a change to the user's profile: updated_at stays as it was.
_KEEP_UPDATED_AT = {"updated_at": User.updated_at}


# What every authenticated request checks of its token (http/auth.py): the user's row without the
# password hash (what ends a token, the role, and the profile GET /v1/users/me answers with) and the
# session's end. Built once, its values bound when executed.
_TOKEN_STATE = (
    select(User, UserSession.id.label("session_id"), UserSession.revoked_at)
    .outerjoin(UserSession, (UserSession.id == bindparam("session_id")) & (UserSession.user_id == User.id))
    .where(User.id == bindparam("user_id"))
    .options(defer(User.password_hash, raiseload=True))
)


class TokenState(NamedTuple):
    """What the token check reads of a user (its password hash not loaded) and one of their sessions
    (session_id None: not theirs)."""

    user: User
    session_id: uuid.UUID | None
    revoked_at: datetime | None


def _by_email(email: str) -> Select[User]:
    return select(User).where(User.email == email)


def _claim_login_attempt(who: ColumnElement[bool], threshold: int, now: datetime) -> Update:
    return (
        update(User)
        .where(
            who,
            User.failed_login_count < threshold,
            (User.locked_until.is_(None)) | (User.locked_until <= now),
        )
        .values(failed_login_count=User.failed_login_count + 1, **_KEEP_UPDATED_AT)
    )


def new_user(*, email: str, password_hash: str, full_name: str | None, role: str, now: datetime) -> User:
    """The row a new account adds, every column given (`repositories.base.insertion`)."""
    return User(
        id=new_id(),
        email=email,
        password_hash=password_hash,
        full_name=full_name,
        role=role,
        is_active=True,
        failed_login_count=0,
        locked_until=None,
        token_epoch=0,
        version=1,
        created_at=now,
        updated_at=now,
    )


def profile_change(user_id: uuid.UUID, version: int, changes: dict[str, Any], now: datetime) -> Update:
    """The UPDATE writing `changes` to the user's row while it is at `version`, with the next version and
    `updated_at` now (not the column's onupdate: the row it leaves must be known)."""
    return (
        update(User)
        .where(User.id == user_id, User.version == version)
        .values(**changes, updated_at=now, version=User.version + 1)
    )


def epoch_ended(user_id: uuid.UUID, changes: dict[str, Any], now: datetime) -> Update:
    """The UPDATE writing `changes` to the user's row and moving its token epoch on, which ends every token
    issued to the user so far; the epoch and version computed by the database, so no read of the row (and
    no lock) has to come first."""
    return (
        update(User)
        .where(User.id == user_id)
        .values(**changes, token_epoch=User.token_epoch + 1, updated_at=now, version=User.version + 1)
    )


def failed_logins_cleared(user_id: uuid.UUID) -> Update:
    """The user's failed login attempts forgotten, and a lock they set (a login succeeded)."""
    return update(User).where(User.id == user_id).values(failed_login_count=0, locked_until=None, **_KEEP_UPDATED_AT)


class UserRepository(Repository[User]):
    model = User

    def by_email(self, email: str) -> User | None:
        return self.session.scalars(_by_email(email)).first()

    def token_state(self, user_id: uuid.UUID, session_id: uuid.UUID) -> TokenState | None:
        """What ends a token of the user's session, and the user's role, in one query (None: no such user)."""
        row = self.session.execute(_TOKEN_STATE, {"user_id": user_id, "session_id": session_id}).first()
        return None if row is None else TokenState(*row)

    def list_page(
        self, *, role: str | None, is_active: bool | None, limit: int, cursor: str | None
    ) -> tuple[Sequence[User], str | None]:
        return self.page(
            self.select_where(role=role, is_active=is_active), limit=limit, cursor=cursor, scope=LISTING_SCOPE
        )

    def claimed_login(self, email: str, *, threshold: int, now: datetime) -> tuple[User | None, bool]:
        """The account of `email` (None: there is none) and whether one more login attempt was counted
        against it before its password is checked.

        The count is one conditional UPDATE, so it is atomic on every backend: while `threshold` attempts
        are counted (and not yet cleared by a success) or the account is locked, no attempt is claimed,
        and parallel guesses cannot get more than `threshold` passwords checked. On PostgreSQL the count
        and the read are one statement, whose read sees the row as it was before the count (a
        data-modifying WITH); elsewhere the count, then the read."""
        return self._claimed(User.email == email, threshold, now)

    def claimed_password_check(self, user_id: uuid.UUID, *, threshold: int, now: datetime) -> tuple[User | None, bool]:
        """As `claimed_login`, for the user whose current password is checked before a change."""
        return self._claimed(User.id == user_id, threshold, now)

    def _claimed(self, who: ColumnElement[bool], threshold: int, now: datetime) -> tuple[User | None, bool]:
        if dialect_name(self.session) == "postgresql":
            claimed = _claim_login_attempt(who, threshold, now).returning(User.id).cte("claimed")
            statement = select(User, claimed.c.id.is_not(None)).outerjoin(claimed, claimed.c.id == User.id).where(who)
            if not compiles_only(self.session, statement):
                row = self.session.execute(statement).first()
                return (None, False) if row is None else (row[0], bool(row[1]))
        counted = self.execute_update(_claim_login_attempt(who, threshold, now)) == 1
        return self.session.scalars(select(User).where(who)).first(), counted

    def lock_if_exhausted(self, user: User, *, threshold: int, until: datetime) -> bool:
        """Lock the account when its failed attempts reached `threshold`; True when this call locked it."""
        statement = (
            update(User)
            .where(User.id == user.id, User.failed_login_count >= threshold)
            .values(failed_login_count=0, locked_until=until, **_KEEP_UPDATED_AT)
        )
        return self.execute_update(statement) == 1

    def clear_failed_logins(self, user: User) -> None:
        self.execute_update(failed_logins_cleared(user.id))
