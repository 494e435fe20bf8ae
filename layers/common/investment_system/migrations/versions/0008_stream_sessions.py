"""Real-time stream: tickets and connections know their session, connections can be ended, and a user's
deliveries take a lease (issue 23).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from investment_system.db.base import UUID_TYPE, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _session_id(table: str, *, nullable: bool) -> sa.Column[uuid.UUID]:
    return sa.Column(
        "session_id",
        UUID_TYPE,
        sa.ForeignKey("user_sessions.id", name=op.f(f"fk_{table}_session_id_user_sessions"), ondelete="CASCADE"),
        nullable=nullable,
    )


def upgrade() -> None:
    with op.batch_alter_table("user_streams") as user_streams:
        user_streams.add_column(sa.Column("delivery_until", UTCDateTime()))
        user_streams.add_column(sa.Column("delivery_pending", sa.Boolean(), nullable=False, server_default=sa.false()))
    # A ticket lives 60 s: those in flight are dropped with the table, and their clients ask for another.
    op.drop_table("stream_tickets")
    op.create_table(
        "stream_tickets",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "user_id",
            UUID_TYPE,
            sa.ForeignKey("users.id", name=op.f("fk_stream_tickets_user_id_users"), ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        _session_id("stream_tickets", nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_stream_tickets")),
    )
    op.create_index("ix_stream_tickets_expires_at", "stream_tickets", ["expires_at"])
    op.create_index("ix_stream_tickets_session_id", "stream_tickets", ["session_id"])
    # Connections open now keep no session (every-session endings still end them; API Gateway closes
    # them within 2 h).
    with op.batch_alter_table("stream_connections") as connections:
        connections.add_column(_session_id("stream_connections", nullable=True))
        connections.add_column(sa.Column("end_code", sa.String(32)))
    op.create_index("ix_stream_connections_session_id", "stream_connections", ["session_id"])


def downgrade() -> None:
    # The foreign key before its index (MySQL refuses to drop an index a foreign key needs).
    with op.batch_alter_table("stream_connections") as connections:
        connections.drop_constraint(op.f("fk_stream_connections_session_id_user_sessions"), type_="foreignkey")
        connections.drop_index("ix_stream_connections_session_id")
        connections.drop_column("session_id")
        connections.drop_column("end_code")
    with op.batch_alter_table("stream_tickets") as tickets:
        tickets.drop_constraint(op.f("fk_stream_tickets_session_id_user_sessions"), type_="foreignkey")
        tickets.drop_index("ix_stream_tickets_session_id")
        tickets.drop_column("session_id")
    with op.batch_alter_table("user_streams") as user_streams:
        user_streams.drop_column("delivery_pending")
        user_streams.drop_column("delivery_until")
