"""The stream's `$default` route: a client's message, counted, read within limits, answered.

- Rate: at most `MESSAGES_PER_SECOND` (10) messages per connection in each second, counted by the API's
  rate limiter (services/system/rate_limit.py, on RATE_LIMIT_BACKEND) as the subject `stream:<connection
  id>:<second>`: one subject per second, so the limiter's window holds that second's messages only. A
  message beyond gets a RATE_LIMIT_EXCEEDED error frame, unread.
- A connection that keeps on is closed: refused messages are counted too (subject
  `stream-refused:<connection id>`, the limiter's 60-second window). The refusal after
  `REFUSALS_BEFORE_CLOSE` (10) within a minute, and each one after it, asks the delivery function to
  close the connection (`request_close`: a last RATE_LIMIT_EXCEEDED frame, then DeleteConnection;
  the local gateway closes with 1008). Asking again on each refusal makes up for a lost request.
- Reading (`read_message`), one reader for every message: at most `MAX_MESSAGE_BYTES` (4 KiB) of
  UTF-8, JSON, one object, flat (no value an object or an array); anything else is refused with
  MALFORMED_MESSAGE. The size is checked before parsing, so the parser never works on more than
  4 KiB, and an error while parsing (RecursionError included) is a malformed message.
- Answer: `{"action": "ping"}` gets `{"type": "pong"}`, any other flat object UNSUPPORTED_MESSAGE.

Nothing reaches the database.
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
from investment_system.snapstart import before_snapshot

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


before_snapshot(get_rate_limiter)  # the limiter's store (and its client), which every message uses
