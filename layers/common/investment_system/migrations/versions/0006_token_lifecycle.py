"""Token lifecycle: sessions (the tokens' `sid`, a refresh token family) and a per-user token epoch.

Tokens issued before this revision carry neither `sid` nor the epoch, so they no longer verify:
their refresh token rows can never be used again and are deleted (everyone signs in once more).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from investment_system.db.base import UUID_TYPE, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("token_epoch", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "user_sessions",
        sa.Column("id", UUID_TYPE, nullable=False),
        sa.Column("user_id", UUID_TYPE, nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.execute(sa.text("DELETE FROM refresh_tokens"))
    # Batch mode: SQLite adds a foreign key by rebuilding the table.
    with op.batch_alter_table("refresh_tokens") as refresh_tokens:
        refresh_tokens.create_foreign_key(
            op.f("fk_refresh_tokens_family_id_user_sessions"),
            "user_sessions",
            ["family_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as refresh_tokens:
        refresh_tokens.drop_constraint(op.f("fk_refresh_tokens_family_id_user_sessions"), type_="foreignkey")
    op.drop_table("user_sessions")  # with its index (MySQL refuses to drop the foreign key's index alone)
    with op.batch_alter_table("users") as users:
        users.drop_column("token_epoch")
