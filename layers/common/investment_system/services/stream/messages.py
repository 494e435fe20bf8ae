"""The stream's `$default` route: a client's message, counted, read within limits, answered.

At most `MESSAGES_PER_SECOND` a connection, counted by the API's rate limiter; a connection that
keeps on past `REFUSALS_BEFORE_CLOSE` refusals a minute is closed by the delivery function. One
reader (`read_message`): at most `MAX_MESSAGE_BYTES` of UTF-8 checked before parsing, JSON, one flat
object, else MALFORMED_MESSAGE. A ping gets a pong, anything else UNSUPPORTED_MESSAGE. Nothing reaches
the database (docs/stream.md#client-messages-one-reader-10-a-second).
"""

from __future__ import annotations

import json
import time
from typing import Any

from investment_system.errors import AppError, ErrorCode, RateLimited, RequestError
from investment_system.observability import logger
from investment_system.services.stream.delivery import error_frame, request_close
from investment_system.services.system.rate_limit import get_rate_limiter
from investment_system.settings import get_settings

MESSAGES_PER_SECOND = 10
REFUSALS_BEFORE_CLOSE = 10
MAX_MESSAGE_BYTES = 4096

Scalar = str | int | float | bool | None


def answer(connection_id: str, message: str | None) -> dict[str, Any]:
    """The frame that answers a client's message on this connection."""
    try:
        if not _admitted(connection_id):
            return error_frame(
                ErrorCode.RATE_LIMIT_EXCEEDED, f"At most {MESSAGES_PER_SECOND} messages a second on a connection."
            )
        fields = read_message(message)
    except AppError as error:  # MALFORMED_MESSAGE, or the limiter down and failing closed
        return error_frame(error.code, error.message)
    if fields.get("action") == "ping":
        return {"type": "pong"}
    return error_frame(ErrorCode.UNSUPPORTED_MESSAGE)


def read_message(message: str | None) -> dict[str, Scalar]:
    """The message as a flat JSON object; 400 MALFORMED_MESSAGE (RequestError) for anything else."""
    # More characters than the limit's bytes is over the limit whatever they encode to: refused unencoded.
    if message is None or len(message) > MAX_MESSAGE_BYTES:
        raise _malformed(f"A message must be JSON text of at most {MAX_MESSAGE_BYTES} bytes.")
    try:
        size = len(message.encode("utf-8"))
    except UnicodeEncodeError:  # an unpaired surrogate: what a frame that is not UTF-8 can turn into
        raise _malformed("A message must be UTF-8 text.") from None
    if size > MAX_MESSAGE_BYTES:
        raise _malformed(f"A message must be JSON text of at most {MAX_MESSAGE_BYTES} bytes.")
    try:
        value = json.loads(message, parse_constant=_not_json)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise _malformed("A message must be JSON.") from None
    if not isinstance(value, dict):
        raise _malformed("A message must be one JSON object.")
    if any(isinstance(field, dict | list) for field in value.values()):
        raise _malformed("A message's values must not be objects or arrays.")
    return value


def _malformed(message: str) -> RequestError:
    return RequestError(ErrorCode.MALFORMED_MESSAGE, message)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _admitted(connection_id: str) -> bool:
    """Count the message against its connection's limit; False when it is over it (after asking for
    the connection to be closed when it keeps on)."""
    if not get_settings().rate_limit.enabled:
        return True
    limiter = get_rate_limiter()
    now = time.time()
    try:
        limiter.check(f"stream:{connection_id}:{int(now)}", MESSAGES_PER_SECOND, now)
    except RateLimited:
        try:
            limiter.check(f"stream-refused:{connection_id}", REFUSALS_BEFORE_CLOSE, now)
        except RateLimited:
            logger.warning(
                "Closing a stream connection that keeps sending too fast", extra={"connection_id": connection_id}
            )
            request_close(connection_id, ErrorCode.RATE_LIMIT_EXCEEDED)
        return False
    return True
