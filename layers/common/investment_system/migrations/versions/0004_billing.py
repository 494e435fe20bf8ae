"""Billing: plans (seeded with the contract's defaults), subscriptions, daily usage, payment events, idempotency keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from investment_system.db.base import UUID_TYPE, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the catalogue at this revision: later price changes get a migration of their own.
PLANS = [
    {
        "code": "free",
        "name": "Free",
        "price_cents": 0,
        "currency": "USD",
        "interval": "month",
        "signals_per_day": 10,
        "requests_per_minute": 60,
        "features": ["signals", "analytics"],
    },
    {
        "code": "pro",
        "name": "Pro",
        "price_cents": 2900,
        "currency": "USD",
        "interval": "month",
        "signals_per_day": 500,
        "requests_per_minute": 600,
        "features": ["signals", "analytics", "priority_support"],
    },
    {
        "code": "enterprise",
        "name": "Enterprise",
        "price_cents": 19900,
        "currency": "USD",
        "interval": "month",
        "signals_per_day": 10000,
        "requests_per_minute": 3000,
        "features": ["signals", "analytics", "priority_support", "sla"],
    },
]


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("price_cents", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("interval", sa.String(16), nullable=False),
        sa.Column("signals_per_day", sa.Integer, nullable=False),
        sa.Column("requests_per_minute", sa.Integer, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_plans")),
    )
    op.bulk_insert(plans, PLANS)
    op.create_table(
        "subscriptions",
        sa.Column("id", UUID_TYPE, nullable=False),
        sa.Column("user_id", UUID_TYPE, nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_period_start", UTCDateTime(), nullable=False),
        sa.Column("current_period_end", UTCDateTime(), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("user_id", name=op.f("uq_subscriptions_user_id")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_subscriptions_user_id_users")),
        sa.ForeignKeyConstraint(["plan_code"], ["plans.code"], name=op.f("fk_subscriptions_plan_code_plans")),
        sa.CheckConstraint("status IN ('ACTIVE', 'PAST_DUE', 'CANCELED')", name=op.f("ck_subscriptions_status")),
    )
    op.create_table(
        "daily_usage",
        sa.Column("user_id", UUID_TYPE, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("signals_created", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_daily_usage")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_daily_usage_user_id_users")),
    )
    op.create_table(
        "payment_events",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("user_id", UUID_TYPE),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", UUID_TYPE, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claim_token", UUID_TYPE, nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("response_status", sa.Integer),
        sa.Column("response_body", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key_hash", name=op.f("pk_idempotency_keys")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_idempotency_keys_user_id_users")),
        sa.CheckConstraint("status IN ('IN_PROGRESS', 'COMPLETED')", name=op.f("ck_idempotency_keys_status")),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("payment_events")
    op.drop_table("daily_usage")
    op.drop_table("subscriptions")
    op.drop_table("plans")
