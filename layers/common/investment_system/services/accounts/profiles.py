"""Changing a profile, with its audit row. No argon2 here (services/accounts/passwords.py), and no token
revocation (an administrator's change of a user is services/accounts/admin.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from investment_system.db import single_statement_write, unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import Conflict, ErrorCode
from investment_system.models.users import User as UserRow
from investment_system.repositories.accounts.users import UserRepository, profile_change
from investment_system.schemas.users import User, UserUpdate
from investment_system.schemas.versions import Precondition
from investment_system.services.accounts.authentication import checked_caller
from investment_system.services.accounts.reads import existing_user
from investment_system.services.system.audit import write_audited

AUDITED_FIELDS = ("email", "full_name", "role", "is_active")


def audit_snapshot(user: UserRow) -> dict[str, Any]:
    """The user's fields the audit trail follows (never the password hash)."""
    return {name: getattr(user, name) for name in AUDITED_FIELDS}


def update_profile(user_id: uuid.UUID, update: UserUpdate, precondition: Precondition | None = None) -> User:
    """Change the caller's profile, with its audit row; with a `precondition` (If-Match), only the version it
    names (412 PRECONDITION_FAILED).

    The row changed is the one the request's token check read: on PostgreSQL the change with its audit row
    is then one statement, written only while the row is still at that version. When a concurrent change
    came in between, the change is made again with the row locked from read to write, unless the client
    named its version: that version is gone, 412."""
    read = checked_caller(user_id)
    if read is not None:
        with single_statement_write() as session:
            changed = _changed(session, read, update, precondition)
        if changed is not None:
            return changed
        if precondition is not None:
            raise Conflict(ErrorCode.PRECONDITION_FAILED)
    with unit_of_work() as session:
        changed = _changed(
            session, existing_user(UserRepository(session), user_id, for_update=True), update, precondition
        )
    if changed is None:  # (locked: no other change can come in between)
        raise Conflict(ErrorCode.PRECONDITION_FAILED)
    return changed


def _changed(session: Session, user: UserRow, update: UserUpdate, precondition: Precondition | None) -> User | None:
    """The profile `user` (as read) has after `update`, written with its audit row only while the row is at
    the version read; None when it was not. A PATCH that changes nothing writes nothing."""
    if precondition is not None:
        precondition.require(str(user.version))
    profile = User.model_validate(user)
    asked = update.model_dump(include=update.model_fields_set)
    changes = {name: value for name, value in asked.items() if getattr(user, name) != value}
    if not changes:
        return profile
    now = utcnow()
    before = audit_snapshot(user)
    written = write_audited(
        session,
        profile_change(user.id, user.version, changes, now),
        entity_type="user",
        entity_id=user.id,
        action="profile_updated",
        actor_id=user.id,
        before=before,
        after={**before, **changes},
    )
    if not written:
        return None
    return profile.model_copy(update={**changes, "updated_at": now})
