"""Applies the schema migrations: on every deploy, as the stack's `DatabaseMigration` custom resource,
and by hand (`sam remote invoke MigrateFunction`), when it returns the revisions.

The layer is imported inside the handler, so that even a configuration error at start-up reaches
CloudFormation as a FAILED deploy instead of leaving the stack waiting for an answer.
"""

from typing import Any

from investment_system.custom_resource import is_custom_resource_event, run_custom_resource


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_custom_resource_event(event):
        return run_custom_resource(event, migrate)  # Delete leaves the schema (and its data) alone
    return migrate()


def migrate() -> dict[str, Any]:
    from investment_system.db.migrate import current_revision, upgrade
    from investment_system.observability import logger, traced

    with traced("migrations"):
        before = current_revision()
        upgrade()
        after = current_revision()
    logger.info("Migrations applied", extra={"from_revision": before, "to_revision": after})
    return {"from_revision": before, "to_revision": after}
