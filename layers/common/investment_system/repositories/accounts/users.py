"""Users: lookups, the admin listing, and the atomic failed-login bookkeeping behind the lockout."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, Update, bindparam, select, update

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile
from investment_system.models.sessions import UserSession
from investment_system.models.users import User
from investment_system.repositories.base import Repository, by_id

LISTING_SCOPE = "admin-users"
# Login bookkeeping is not a change to the user's profile: updated_at stays as it was.
_KEEP_UPDATED_AT = {"updated_at": User.updated_at}


# What every authenticated request runs first, built once: its values are bound when it is executed,
# so a request pays neither for building the statement nor for working out its cache key.
_USER_WITH_SESSION = (
    select(User, UserSession)
    .outerjoin(UserSession, (UserSession.id == bindparam("session_id")) & (UserSession.user_id == User.id))
    .where(User.id == bindparam("user_id"))
)


def _by_email(email: str) -> Select[User]:
    return select(User).where(User.email == email)


def _claim_login_attempt(email: str, threshold: int, now: datetime) -> Update:
    return (
        update(User)
        .where(
            User.email == email,
            User.failed_login_count < threshold,
            (User.locked_until.is_(None)) | (User.locked_until <= now),
        )
        .values(failed_login_count=User.failed_login_count + 1, **_KEEP_UPDATED_AT)
    )


def _clear_failed_logins(user_id: uuid.UUID) -> Update:
    return update(User).where(User.id == user_id).values(failed_login_count=0, locked_until=None, **_KEEP_UPDATED_AT)


# Compiled before a SnapStart snapshot (db.engine.precompile), with a user read by id (a profile, an
# administrator's change, a payment event's user) and its locked read (a profile or password change),
# and what a login and a password change run: the read by email, the attempt's claim and its release.
precompile(
    lambda _: [
        _USER_WITH_SESSION,
        by_id(User, uuid.UUID(int=0)),
        by_id(User, uuid.UUID(int=0)).with_for_update(),
        _by_email(""),
        _claim_login_attempt("", 1, utcnow()),
        _clear_failed_logins(uuid.UUID(int=0)),
    ]
)


class UserRepository(Repository[User]):
    model = User

    def by_email(self, email: str) -> User | None:
        return self.session.scalars(_by_email(email)).first()

    def with_session(self, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[User, UserSession | None] | None:
        """The user and one of their sessions (None when it is not theirs or does not exist), in one query:
        what each authenticated request and each refresh check."""
        row = self.session.execute(_USER_WITH_SESSION, {"user_id": user_id, "session_id": session_id}).first()
        return None if row is None else (row[0], row[1])

    def list_page(
        self, *, role: str | None, is_active: bool | None, limit: int, cursor: str | None
    ) -> tuple[Sequence[User], str | None]:
        return self.page(
            self.select_where(role=role, is_active=is_active), limit=limit, cursor=cursor, scope=LISTING_SCOPE
        )

    def claim_login_attempt(self, email: str, *, threshold: int, now: datetime) -> bool:
        """Count one more login attempt against the account before its password is checked.

        One conditional UPDATE, so it is atomic on every backend: while `threshold` attempts are
        counted (and not yet cleared by a success) or the account is locked, no attempt is
        claimed, and parallel guesses cannot get more than `threshold` passwords checked.
        False when the account is locked (or does not exist).
        """
        return self.execute_update(_claim_login_attempt(email, threshold, now)) == 1

    def lock_if_exhausted(self, user: User, *, threshold: int, until: datetime) -> bool:
        """Lock the account when its failed attempts reached `threshold`; True when this call locked it."""
        statement = (
            update(User)
            .where(User.id == user.id, User.failed_login_count >= threshold)
            .values(failed_login_count=0, locked_until=until, **_KEEP_UPDATED_AT)
        )
        return self.execute_update(statement) == 1

    def clear_failed_logins(self, user: User) -> None:
        self.execute_update(_clear_failed_logins(user.id))
