"""An administrator's change of another user: role, activation; ending their tokens when it must."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm.attributes import set_committed_value

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import Conflict, ErrorCode
from investment_system.models.users import User as UserRow
from investment_system.repositories.accounts.users import UserRepository
from investment_system.schemas.users import User, UserAdminUpdate
from investment_system.services.accounts.profiles import audit_snapshot
from investment_system.services.accounts.reads import existing_user
from investment_system.services.accounts.revocation import end_every_session
from investment_system.services.system.audit import Change, audit_row_insertion, record_change


def update_user_as_admin(admin_id: uuid.UUID, user_id: uuid.UUID, update: UserAdminUpdate) -> User:
    """Change another user's role or activation; a deactivation or a new role ends every token issued
    to them before (they sign in again, with the new role)."""
    if user_id == admin_id:
        raise Conflict(ErrorCode.CANNOT_MODIFY_SELF)
    with unit_of_work() as session:
        users = UserRepository(session)
        user = existing_user(users, user_id, for_update=True)
        before = audit_snapshot(user)
        changes = update.model_dump(exclude_none=True)
        deactivated = before["is_active"] and changes.get("is_active") is False
        if not (deactivated or changes.get("role", before["role"]) != before["role"]):
            users.update(user, **changes)
            record_change(session, **_audited(admin_id, user, before))
            return User.model_validate(user)
        # The change ends every session, in one statement with its audit row on PostgreSQL. The row is
        # locked: what that statement leaves is known, and the loaded row is given it.
        now = utcnow()
        left = {**changes, "token_epoch": user.token_epoch + 1, "version": user.version + 1, "updated_at": now}
        for name, value in left.items():
            set_committed_value(user, name, value)
        audit = audit_row_insertion(**_audited(admin_id, user, before))
        end_every_session(session, user.id, active=user.is_active, now=now, changes=changes, with_writes=[audit])
        return User.model_validate(user)


def _audited(admin_id: uuid.UUID, user: UserRow, before: dict[str, Any]) -> Change:
    after = audit_snapshot(user)
    return Change(
        entity_type="user", entity_id=user.id, action="updated_by_admin", actor_id=admin_id, before=before, after=after
    )
