"""The database's health probe: one round trip."""

from __future__ import annotations

from sqlalchemy import text

from investment_system.db.engine import read_only_connection


def ping_database() -> None:
    """`SELECT 1` on a pooled connection, not in a unit of work (the ORM session would add sqlalchemy.orm
    to the health function's cold start), and outside a transaction: one statement, no BEGIN or COMMIT."""
    with read_only_connection() as connection:
        connection.execute(text("SELECT 1"))
