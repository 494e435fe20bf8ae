"""Changing a profile, with its audit row. No argon2 here (services/accounts/passwords.py), and no token
revocation (an administrator's change of a user is services/accounts/admin.py)."""

from __future__ import annotations

import uuid
from typing import Any

from investment_system.db import unit_of_work
from investment_system.models.users import User
from investment_system.repositories.accounts.users import UserRepository
from investment_system.schemas.users import ProfileUpdate, UserOut
from investment_system.services.accounts.reads import existing_user
from investment_system.services.system.audit import record_change

AUDITED_FIELDS = ("email", "full_name", "role", "is_active")


def audit_snapshot(user: User) -> dict[str, Any]:
    """The user's fields the audit trail follows (never the password hash)."""
    return {name: getattr(user, name) for name in AUDITED_FIELDS}


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
