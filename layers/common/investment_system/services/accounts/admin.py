"""An administrator's change of another user: role, activation; ending their tokens when it must."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from investment_system.db import read_only, single_statement_write, unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import Conflict, ErrorCode
from investment_system.models.users import User as UserRow
from investment_system.repositories.accounts.users import UserRepository
from investment_system.repositories.base import versioned_change
from investment_system.schemas.users import User, UserAdminUpdate
from investment_system.services.accounts.profiles import audit_snapshot
from investment_system.services.accounts.reads import existing_user
from investment_system.services.accounts.revocation import end_every_session
from investment_system.services.system.audit import Change, audit_row, write_audited


def update_user_as_admin(admin_id: uuid.UUID, user_id: uuid.UUID, update: UserAdminUpdate) -> User:
    """Change another user's role or activation; a deactivation or a new role ends every token issued
    to them before (they sign in again, with the new role).

    Optimistic first, as a signal's change: the user read, then the change written with its audit row
    (and every session's end) only while the row is still at the version read; on PostgreSQL one
    statement each, no transaction. When a concurrent change came in between, once more with the row
    locked from read to write."""
    if user_id == admin_id:
        raise Conflict(ErrorCode.CANNOT_MODIFY_SELF)
    changes = update.model_dump(exclude_none=True)
    with read_only() as session:
        user = existing_user(UserRepository(session), user_id)
    with single_statement_write() as session:
        changed = _change_as_read(session, admin_id, user, changes)
    if changed is not None:
        return changed
    with unit_of_work() as session:
        user = existing_user(UserRepository(session), user_id, for_update=True)
        changed = _change_as_read(session, admin_id, user, changes)
    assert changed is not None  # the row is locked: it is as read
    return changed


def _change_as_read(session: Session, admin_id: uuid.UUID, user: UserRow, changes: dict[str, Any]) -> User | None:
    """Write `changes` to `user` with the audit row while the row is as read; the user as changed, or None
    when the row was not as read. A deactivation or a new role also moves the token epoch on and ends
    every session (`end_every_session`), in the same statement on PostgreSQL."""
    before = audit_snapshot(user)
    deactivated = before["is_active"] and changes.get("is_active") is False
    ends_sessions = deactivated or changes.get("role", before["role"]) != before["role"]
    values = {**changes, "token_epoch": user.token_epoch + 1} if ends_sessions else changes
    now = utcnow()
    write, changed = versioned_change(user, now, values)
    record = Change(
        entity_type="user",
        entity_id=user.id,
        action="updated_by_admin",
        actor_id=admin_id,
        before=before,
        after=audit_snapshot(changed),
    )
    if ends_sessions:
        ended = end_every_session(session, write, user.id, active=changed.is_active, now=now, audit=audit_row(**record))
        return None if ended is None else User.model_validate(changed)
    if not write_audited(session, write, **record):
        return None
    return User.model_validate(changed)
