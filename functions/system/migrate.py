"""Runs the schema migrations; invoked on deploy (and by hand: `sam remote invoke MigrateFunction`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from investment_system.db.migrate import current_revision, upgrade
from investment_system.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    before = current_revision()
    upgrade()
    after = current_revision()
    logger.info("Migrations applied", extra={"from_revision": before, "to_revision": after})
    return {"from_revision": before, "to_revision": after}
