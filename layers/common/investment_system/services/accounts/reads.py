"""Reading users: a profile, the administrators' listing. No audit trail or token revocation here."""

from __future__ import annotations

import uuid

from investment_system.db import unit_of_work
from investment_system.errors import ErrorCode, NotFound
from investment_system.models.users import User
from investment_system.repositories.accounts.users import UserRepository
from investment_system.schemas.users import Role, UserOut, UserPage


def get_profile(user_id: uuid.UUID) -> UserOut:
    with unit_of_work() as session:
        return UserOut.model_validate(existing_user(UserRepository(session), user_id))


def list_users(*, role: Role | None, is_active: bool | None, limit: int, cursor: str | None) -> UserPage:
    with unit_of_work() as session:
        rows, next_cursor = UserRepository(session).list_page(
            role=role, is_active=is_active, limit=limit, cursor=cursor
        )
        return UserPage(items=[UserOut.model_validate(row) for row in rows], next_cursor=next_cursor)


def existing_user(users: UserRepository, user_id: uuid.UUID, *, for_update: bool = False) -> User:
    """The user, or 404 USER_NOT_FOUND."""
    user = users.get(user_id, for_update=for_update)
    if user is None:
        raise NotFound(ErrorCode.USER_NOT_FOUND)
    return user
