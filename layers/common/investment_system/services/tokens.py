"""JWT access and refresh tokens (PyJWT), verified with the one configured algorithm."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from investment_system.errors import AuthenticationError, ErrorCode
from investment_system.settings import get_settings

REQUIRED_CLAIMS = ["sub", "role", "type", "iat", "exp", "iss", "aud", "jti"]
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
    jti: uuid.UUID | None = None,
    now: datetime | None = None,
) -> str:
    security = get_settings().security
    now = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "type": token_type,
        "iat": now,
        "nbf": now,
        "exp": now + token_lifetime(token_type),
        "iss": security.jwt_issuer,
        "aud": security.jwt_audience,
        "jti": str(jti or uuid.uuid4()),
    }
    return jwt.encode(claims, security.jwt_secret, algorithm=security.jwt_algorithm)


def verify_token(token: str, expected_type: TokenType) -> dict[str, Any]:
    """The token's claims; 401 TOKEN_EXPIRED or TOKEN_INVALID for anything else."""
    security = get_settings().security
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
    if claims.get("type") != expected_type:
        raise AuthenticationError(ErrorCode.TOKEN_INVALID)
    try:
        uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise AuthenticationError(ErrorCode.TOKEN_INVALID) from None
    return claims


def verify_access_token(token: str) -> dict[str, Any]:
    return verify_token(token, "access")


def verify_refresh_token(token: str) -> dict[str, Any]:
    return verify_token(token, "refresh")
