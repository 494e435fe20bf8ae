"""Billing that is paid for: checkouts, scheduled plan changes, dunning (issue 11).

- `checkouts`: a purchase the user started; only the provider's invoice.paid naming it completes it.
- `subscriptions.scheduled_plan_code`: a cheaper plan taking over at the period's end;
  `subscriptions.past_due_since`: when dunning started.
- Indexes for the scheduled jobs: due plan changes and dunning, and the housekeeping purges
  (expired checkouts, idempotency records, old payment events).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from investment_system.db.base import UUID_TYPE, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite adds a foreign key by rebuilding the table.
    with op.batch_alter_table("subscriptions") as subscriptions:
        subscriptions.add_column(sa.Column("scheduled_plan_code", sa.String(32)))
        subscriptions.add_column(sa.Column("past_due_since", UTCDateTime()))
        subscriptions.create_foreign_key(
            op.f("fk_subscriptions_scheduled_plan_code_plans"), "plans", ["scheduled_plan_code"], ["code"]
        )
    op.create_index("ix_subscriptions_current_period_end", "subscriptions", ["current_period_end"])
    op.create_index("ix_subscriptions_past_due_since", "subscriptions", ["past_due_since"])
    op.create_table(
        "checkouts",
        sa.Column("id", UUID_TYPE, nullable=False),
        sa.Column("user_id", UUID_TYPE, nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkouts")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_checkouts_user_id_users")),
        sa.ForeignKeyConstraint(["plan_code"], ["plans.code"], name=op.f("fk_checkouts_plan_code_plans")),
        sa.CheckConstraint("status IN ('PENDING', 'COMPLETED', 'REPLACED')", name=op.f("ck_checkouts_status")),
    )
    op.create_index("ix_checkouts_user_id", "checkouts", ["user_id"])
    op.create_index("ix_checkouts_expires_at", "checkouts", ["expires_at"])
    op.create_index("ix_payment_events_received_at", "payment_events", ["received_at"])
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_expires_at", "idempotency_keys")
    op.drop_index("ix_payment_events_received_at", "payment_events")
    op.drop_table("checkouts")  # with its indexes
    op.drop_index("ix_subscriptions_past_due_since", "subscriptions")
    op.drop_index("ix_subscriptions_current_period_end", "subscriptions")
    with op.batch_alter_table("subscriptions") as subscriptions:
        subscriptions.drop_constraint(op.f("fk_subscriptions_scheduled_plan_code_plans"), type_="foreignkey")
        subscriptions.drop_column("past_due_since")
        subscriptions.drop_column("scheduled_plan_code")
