"""Applies the schema migrations: on every deploy, as the stack's `DatabaseMigration` custom resource,
and by hand (`sam remote invoke MigrateFunction`), when it returns the revisions.

The layer is imported inside the use case, so that even a configuration error at start-up reaches
CloudFormation as a FAILED deploy instead of leaving the stack waiting for an answer. Under SnapStart
the snapshot imports it (and Alembic) beforehand, when the version is published: an error there fails
the publication, which CloudFormation reports as well.
"""

from typing import Any

from investment_system.entrypoints import custom_resource_handler
from investment_system.snapstart import before_snapshot


def migrate() -> dict[str, Any]:
    from investment_system.services.system.schema_migrations import apply_migrations

    return dict(apply_migrations())


def _prime() -> None:
    from investment_system.services.system.schema_migrations import load_migration_environment

    load_migration_environment()


before_snapshot(_prime)
handler = custom_resource_handler(migrate)  # Delete leaves the schema (and its data) alone
