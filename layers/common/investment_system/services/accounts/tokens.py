"""JWT access and refresh tokens (PyJWT), verified with the one configured algorithm.

Besides the registered claims a token carries `sid`, the session (login) it belongs to, and
`epoch`, the user's token epoch when it was issued: the session and the epoch are what end a token
before it expires (services/accounts/revocation.py). An access token also carries `rpm` and `plan`, its
user's plan's requests per minute and code when it was issued: the rate-limit guard's fallback limit, and
what feature-flag rules match.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

import jwt  # its modules load on first use (investment_system/lazy_packages.py)

from investment_system.errors import AuthenticationError, ErrorCode
from investment_system.settings import SecuritySettings, get_settings
from investment_system.snapstart import after_restore, before_snapshot

REQUIRED_CLAIMS = ["sub", "role", "type", "sid", "epoch", "iat", "exp", "iss", "aud", "jti"]
TokenType = Literal["access", "refresh"]


def token_lifetime(token_type: TokenType) -> timedelta:
    security = get_settings().security
    ttl = security.access_token_ttl_seconds if token_type == "access" else security.refresh_token_ttl_seconds
    return timedelta(seconds=ttl)


def issue_token(
    user_id: uuid.UUID,
    role: str,
    token_type: TokenType,
    *,
    session_id: uuid.UUID,
    epoch: int,
    expires_at: datetime,
    jti: uuid.UUID | None = None,
    now: datetime,
    requests_per_minute: int | None = None,
    plan: str | None = None,
) -> str:
    """A signed token of `session_id`, issued `now`; `expires_at` lies at most its type's lifetime later.
    `requests_per_minute` and `plan` are the `rpm` and `plan` claims of an access token."""
    security = get_settings().security
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "type": token_type,
        "sid": str(session_id),
        "epoch": epoch,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
        "iss": security.jwt_issuer,
        "aud": security.jwt_audience,
        "jti": str(jti or uuid.uuid4()),
    }
    if requests_per_minute is not None:
        claims["rpm"] = requests_per_minute
    if plan is not None:
        claims["plan"] = plan
    return jwt.encode(claims, security.jwt_secret, algorithm=security.jwt_algorithm)


def verify_token(token: str, expected_type: TokenType) -> dict[str, Any]:
    """The token's claims; 401 TOKEN_EXPIRED or TOKEN_INVALID for anything else.

    Beyond signature, algorithm, issuer, audience and times, a token must be of the expected type,
    name its user and session as UUIDs and its epoch as an integer, and not claim a longer life
    (`exp - iat`) than the configured lifetime of its type: a token valid until the year 9999 was
    not made here, or was made with settings that no longer hold.

    A token that passed is remembered with the settings it was checked under (`_checked_claims`):
    a request checks its token twice (the rate-limit guard, then authentication) and a client
    sends the same one for its lifetime, and all that can change of the verdict is the expiry.
    """
    security = get_settings().security
    claims = _checked_claims(token, expected_type, security)
    if claims["exp"] <= time.time() - security.jwt_leeway_seconds:  # expired, as PyJWT tells it
        raise AuthenticationError(ErrorCode.TOKEN_EXPIRED)
    return dict(claims)


@lru_cache(maxsize=256)
def _checked_claims(token: str, expected_type: TokenType, security: SecuritySettings) -> Mapping[str, Any]:
    """A token's claims, decoded and checked under `security`; a refused token raises (and is not remembered)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            security.jwt_secret,
            algorithms=[security.jwt_algorithm],
            audience=security.jwt_audience,
            issuer=security.jwt_issuer,
            leeway=security.jwt_leeway_seconds,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError(ErrorCode.TOKEN_EXPIRED) from None
    except jwt.PyJWTError:
        raise AuthenticationError(ErrorCode.TOKEN_INVALID) from None
    if (
        claims.get("type") != expected_type
        or not _is_uuid(claims["sub"])
        or not _is_uuid(claims["sid"])
        or type(claims["epoch"]) is not int
        or not all(type(claims[claim]) in (int, float) for claim in ("iat", "exp"))  # PyJWT takes "1795…" too
        or claims["exp"] - claims["iat"] > token_lifetime(expected_type).total_seconds()
    ):
        raise AuthenticationError(ErrorCode.TOKEN_INVALID)
    return MappingProxyType(claims)


def verify_access_token(token: str) -> dict[str, Any]:
    return verify_token(token, "access")


def verify_refresh_token(token: str) -> dict[str, Any]:
    return verify_token(token, "refresh")


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# A request without a token needs none of PyJWT; under SnapStart its modules are loaded in the snapshot.
before_snapshot(lambda: (jwt.encode, jwt.decode, jwt.ExpiredSignatureError, jwt.PyJWTError))
# The settings are read again after a restore (settings.py): what was checked under the old ones goes.
after_restore(_checked_claims.cache_clear)
