"""Real-time stream: per-user event outbox, stream tickets and connections (issue 14).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from investment_system.db.base import UUID_TYPE, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user_id(table: str) -> sa.Column[uuid.UUID]:
    return sa.Column(
        "user_id",
        UUID_TYPE,
        sa.ForeignKey("users.id", name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "user_streams",
        _user_id("user_streams"),
        sa.Column("last_event_id", EVENT_ID, nullable=False),
        sa.Column("connections", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_streams")),
    )
    op.create_table(
        "stream_events",
        _user_id("stream_events"),
        sa.Column("id", EVENT_ID, nullable=False, autoincrement=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_stream_events")),
    )
    op.create_index("ix_stream_events_at", "stream_events", ["at"])
    op.create_table(
        "stream_tickets",
        sa.Column("token_hash", sa.String(64), nullable=False),
        _user_id("stream_tickets"),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_stream_tickets")),
    )
    op.create_index("ix_stream_tickets_expires_at", "stream_tickets", ["expires_at"])
    op.create_table(
        "stream_connections",
        sa.Column("id", sa.String(128), nullable=False),
        _user_id("stream_connections"),
        sa.Column("connected_at", UTCDateTime(), nullable=False),
        sa.Column("last_event_id", EVENT_ID, nullable=False),
        sa.Column("skip_from", EVENT_ID),
        sa.Column("skip_to", EVENT_ID),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_connections")),
    )
    op.create_index("ix_stream_connections_user_connected", "stream_connections", ["user_id", "connected_at"])


def downgrade() -> None:
    # Each table with its indexes (MySQL refuses to drop a foreign key's index alone).
    for table in ("stream_connections", "stream_tickets", "stream_events", "user_streams"):
        op.drop_table(table)
