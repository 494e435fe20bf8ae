"""Profiles and the administration of users. No argon2 here: reading a profile does not need it."""

from __future__ import annotations

import uuid
from typing import Any

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import Conflict, ErrorCode, NotFound
from investment_system.models.users import User
from investment_system.repositories.users import UserRepository
from investment_system.schemas.users import AdminUserUpdate, ProfileUpdate, Role, UserOut, UserPage
from investment_system.services.audit import record_change
from investment_system.services.revocation import end_every_session

AUDITED_FIELDS = ("email", "full_name", "role", "is_active")


def audit_snapshot(user: User) -> dict[str, Any]:
    """The user's fields the audit trail follows (never the password hash)."""
    return {name: getattr(user, name) for name in AUDITED_FIELDS}


def get_profile(user_id: uuid.UUID) -> UserOut:
    with unit_of_work() as session:
        return UserOut.model_validate(existing_user(UserRepository(session), user_id))


def update_profile(user_id: uuid.UUID, update: ProfileUpdate) -> UserOut:
    with unit_of_work() as session:
        users = UserRepository(session)
        user = existing_user(users, user_id, for_update=True)
        before = audit_snapshot(user)
        users.update(user, **update.model_dump(include=update.model_fields_set))
        after = audit_snapshot(user)
        if after != before:  # a PATCH that changes nothing leaves no audit row
            record_change(
                session,
                entity_type="user",
                entity_id=user.id,
                action="profile_updated",
                actor_id=user_id,
                before=before,
                after=after,
            )
        return UserOut.model_validate(user)


def list_users(*, role: Role | None, is_active: bool | None, limit: int, cursor: str | None) -> UserPage:
    with unit_of_work() as session:
        rows, next_cursor = UserRepository(session).list_page(
            role=role, is_active=is_active, limit=limit, cursor=cursor
        )
        return UserPage(items=[UserOut.model_validate(row) for row in rows], next_cursor=next_cursor)


def update_user_as_admin(admin_id: uuid.UUID, user_id: uuid.UUID, update: AdminUserUpdate) -> UserOut:
    """Change another user's role or activation; a deactivation or a new role ends every token issued
    to them before (they sign in again, with the new role)."""
    if user_id == admin_id:
        raise Conflict(ErrorCode.CANNOT_MODIFY_SELF)
    with unit_of_work() as session:
        users = UserRepository(session)
        user = existing_user(users, user_id, for_update=True)
        before = audit_snapshot(user)
        users.update(user, **update.model_dump(exclude_none=True))
        if (before["is_active"] and not user.is_active) or before["role"] != user.role:
            end_every_session(session, user, now=utcnow())
        record_change(
            session,
            entity_type="user",
            entity_id=user.id,
            action="updated_by_admin",
            actor_id=admin_id,
            before=before,
            after=audit_snapshot(user),
        )
        return UserOut.model_validate(user)


def existing_user(users: UserRepository, user_id: uuid.UUID, *, for_update: bool = False) -> User:
    """The user, or 404 USER_NOT_FOUND."""
    user = users.get(user_id, for_update=for_update)
    if user is None:
        raise NotFound(ErrorCode.USER_NOT_FOUND)
    return user
