"""Trading signals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from investment_system.db.base import UUID_TYPE, UTCDateTime
from investment_system.db.decimals import ExactDecimal

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's definitions: a migration must not change when the model does.
_PRICE = (18, 8)
_INDEXES = {
    "ix_signals_user_created": ["user_id", "created_at", "id"],
    "ix_signals_user_symbol_created": ["user_id", "symbol", "created_at", "id"],
    "ix_signals_user_status_created": ["user_id", "status", "created_at", "id"],
    "ix_signals_user_strategy_created": ["user_id", "strategy", "created_at", "id"],
    "ix_signals_status_expires": ["status", "expires_at"],
}


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", UUID_TYPE, nullable=False),
        sa.Column("user_id", UUID_TYPE, nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("confidence", ExactDecimal(5, 4), nullable=False),
        sa.Column("entry_price", ExactDecimal(*_PRICE), nullable=False),
        sa.Column("target_price", ExactDecimal(*_PRICE)),
        sa.Column("stop_loss", ExactDecimal(*_PRICE)),
        sa.Column("timeframe", sa.String(3), nullable=False),
        sa.Column("strategy", sa.String(64)),
        sa.Column("notes", sa.Text),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("exit_price", ExactDecimal(*_PRICE)),
        sa.Column("return_pct", ExactDecimal(18, 4)),
        sa.Column("expires_at", UTCDateTime()),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("deleted_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_signals_user_id_users")),
        sa.CheckConstraint("direction IN ('BUY', 'SELL')", name=op.f("ck_signals_direction")),
        sa.CheckConstraint("status IN ('OPEN', 'CLOSED', 'EXPIRED')", name=op.f("ck_signals_status")),
        sa.CheckConstraint(
            "timeframe IN ('1m', '5m', '15m', '1h', '4h', '1d', '1w')", name=op.f("ck_signals_timeframe")
        ),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "signals", columns)


def downgrade() -> None:
    # The indexes go with the table (MySQL refuses to drop the one its foreign key uses on its own).
    op.drop_table("signals")
