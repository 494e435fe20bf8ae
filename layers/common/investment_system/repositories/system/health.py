"""The database's health probe: one round trip."""

from __future__ import annotations

from sqlalchemy import text

from investment_system.db import get_engine


def ping_database() -> None:
    """`SELECT 1` on a pooled connection, not in a unit of work: the ORM session would add sqlalchemy.orm
    to the health function's cold start."""
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
