"""Bringing the database schema up to the newest migration (the Migrate function, `invest migrate`)."""

from __future__ import annotations

from investment_system.db.migrate import current_revision, upgrade
from investment_system.observability import logger, traced


def apply_migrations() -> dict[str, str | None]:
    """Apply every pending migration; the revisions before and after."""
    with traced("migrations"):
        before = current_revision()
        upgrade()
        after = current_revision()
    logger.info("Migrations applied", extra={"from_revision": before, "to_revision": after})
    return {"from_revision": before, "to_revision": after}
