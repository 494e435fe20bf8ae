"""Keyset pagination with opaque, tamper-evident cursors.

Pages are ordered newest first by (created_at, id); the cursor carries the last row's key, signed
with an HMAC so a client can neither forge nor edit it (`400 INVALID_CURSOR`). Keyset pages stay
stable while rows are inserted, and cost the same on page 1 and page 1000.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime
from functools import cache

from investment_system.errors import ErrorCode, RequestError
from investment_system.settings import get_settings


@cache
def _cursor_key() -> bytes:
    # Derived, so cursors need no secret of their own and rotate with the JWT secret.
    return hashlib.sha256(b"pagination-cursor:" + get_settings().security.jwt_secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(created_at: datetime, row_id: uuid.UUID, scope: str) -> str:
    """A cursor after the row (created_at, row_id); `scope` binds it to one listing (e.g. a user's)."""
    payload = json.dumps([created_at.isoformat(), str(row_id), scope], separators=(",", ":")).encode()
    signature = hmac.new(_cursor_key(), payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(signature)}"


def decode_cursor(cursor: str, scope: str) -> tuple[datetime, uuid.UUID]:
    """The key a cursor carries; INVALID_CURSOR when it is garbage, edited, or from another listing."""
    try:
        payload_text, signature_text = cursor.split(".", 1)
        payload = _unb64(payload_text)
        expected = hmac.new(_cursor_key(), payload, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, _unb64(signature_text)):
            raise ValueError("signature mismatch")
        created_at_text, row_id_text, cursor_scope = json.loads(payload)
        if cursor_scope != scope:
            raise ValueError("cursor of another listing")
        return datetime.fromisoformat(created_at_text), uuid.UUID(row_id_text)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RequestError(ErrorCode.INVALID_CURSOR) from error
