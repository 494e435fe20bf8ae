"""Reading users: a profile, the administrators' listing. No audit trail or token revocation here."""

from __future__ import annotations

import uuid

from investment_system.db import read_only
from investment_system.errors import ErrorCode, NotFound
from investment_system.models.users import User as UserRow
from investment_system.repositories.accounts.users import UserRepository
from investment_system.schemas.users import Role, User, UserPage
from investment_system.schemas.versions import Versioned
from investment_system.services.accounts.authentication import checked_caller


def get_profile(user_id: uuid.UUID) -> User:
    return versioned_profile(user_id).body


def versioned_profile(user_id: uuid.UUID) -> Versioned[User]:
    """The profile and its version (its ETag's): the caller's as the request's token check read it, in
    the same statement, or read now."""
    checked = checked_caller(user_id)
    if checked is not None:
        return Versioned(User.model_validate(checked), str(checked.version))
    with read_only() as session:
        user = existing_user(UserRepository(session), user_id)
        return Versioned(User.model_validate(user), str(user.version))


def list_users(*, role: Role | None, is_active: bool | None, limit: int, cursor: str | None) -> UserPage:
    with read_only() as session:
        rows, next_cursor = UserRepository(session).list_page(
            role=role, is_active=is_active, limit=limit, cursor=cursor
        )
        return UserPage(items=[User.model_validate(row) for row in rows], next_cursor=next_cursor)


def existing_user(users: UserRepository, user_id: uuid.UUID, *, for_update: bool = False) -> UserRow:
    """The user, or 404 USER_NOT_FOUND."""
    user = users.get(user_id, for_update=for_update)
    if user is None:
        raise NotFound(ErrorCode.USER_NOT_FOUND)
    return user
