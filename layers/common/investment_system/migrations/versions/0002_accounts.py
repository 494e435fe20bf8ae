"""Accounts: refresh tokens in families; emails lower-cased at the database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from investment_system.db.base import UUID_TYPE, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Emails are stored lower-cased; the database refuses any other spelling, so the existing
    # unique constraint on users.email is case-insensitive on every backend. (Batch mode: SQLite
    # adds a constraint by rebuilding the table.)
    with op.batch_alter_table("users") as users:
        users.create_check_constraint("email_lower_case", "email = lower(email)")
    op.create_table(
        "refresh_tokens",
        sa.Column("id", UUID_TYPE, nullable=False),
        sa.Column("family_id", UUID_TYPE, nullable=False),
        sa.Column("user_id", UUID_TYPE, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("replaced_by", UUID_TYPE),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_refresh_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("refresh_tokens")  # with its indexes (MySQL refuses to drop the foreign key's index alone)
    with op.batch_alter_table("users") as users:
        users.drop_constraint(op.f("ck_users_email_lower_case"), type_="check")
