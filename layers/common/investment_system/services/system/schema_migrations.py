"""Bringing the database schema up to the newest migration (the Migrate function, `invest migrate`)."""

from __future__ import annotations

from investment_system.db.migrate import HEAD_REVISION, current_revision, upgrade
from investment_system.observability import logger, traced


def load_migration_environment() -> None:
    """What the first upgrade would import through the migrations' env.py: the ORM, every table's model
    (the metadata it compares with) and Alembic's migration context. SnapStart priming of the migrate
    function: the first deploy after a restore then runs the migrations, not these imports."""
    import sqlalchemy.future  # noqa: F401 (Alembic's migration context imports it)
    from alembic import command  # noqa: F401 (what upgrade() imports when there are migrations to run)
    from alembic.runtime import migration  # noqa: F401

    from investment_system import models

    for name in models.__all__:
        getattr(models, name)


def apply_migrations() -> dict[str, str | None]:
    """Apply every pending migration; the revisions before and after."""
    with traced("migrations"):
        before = current_revision()
        # Most deploys bring no migration: then Alembic is not even imported, nor, without SnapStart, the
        # ORM and every table's model (what env.py loads).
        if before != HEAD_REVISION:
            upgrade()
        after = current_revision()
    logger.info("Migrations applied", extra={"from_revision": before, "to_revision": after})
    return {"from_revision": before, "to_revision": after}
