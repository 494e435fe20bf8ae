"""Scratch databases on the PostgreSQL and MariaDB servers, for the test suite and the benchmark."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url


def create_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server of `admin_url`; the URL of the new database."""
    url = make_url(admin_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if _is_postgres(url):
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, database_url: str) -> None:
    """Drop the database of `database_url`, even with connections still open to it."""
    url = make_url(admin_url)
    name = make_url(database_url).database
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if _is_postgres(url):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        admin.dispose()


def _is_postgres(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"
