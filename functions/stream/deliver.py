"""Invoked asynchronously (never by a route): push a user's new events to their open connections, or close one."""

import uuid
from typing import Any

from investment_system.entrypoints import async_handler
from investment_system.errors import ErrorCode
from investment_system.services.stream.delivery import close, deliver


def on_invoke(event: dict[str, Any]) -> dict[str, int]:
    if "close" in event:  # services.stream.delivery.request_close
        close(event["close"], ErrorCode(event["code"]))
        return {"pushed": 0, "gone": 0, "failed": 0}
    report = deliver(uuid.UUID(event["user_id"]), opened=event.get("opened"), evicted=event.get("evicted") or ())
    return {"pushed": report.pushed, "gone": len(report.gone), "failed": report.failed}


handler = async_handler(on_invoke, sample=lambda world: {"user_id": str(world.investor.user_id)})
