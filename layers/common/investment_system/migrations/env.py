"""Alembic environment: runs on the connection `investment_system.db.migrate` hands over."""

from __future__ import annotations

from alembic import context

from investment_system.db.base import Base
from investment_system.models import *  # noqa: F403  (registers every table)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
