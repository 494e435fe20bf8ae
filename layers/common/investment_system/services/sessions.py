"""Sessions: access/refresh token pairs, refresh rotation within a family, reuse detection, revocation.

One login starts a family. Each refresh revokes the presented token and issues its successor in
the same family; presenting a revoked token again means it was copied, so the whole family is
revoked (the thief's copy and the user's current token alike). Refresh tokens are stored as
SHA-256 digests. No argon2 here: refresh and logout do not need it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import AuthenticationError, ErrorCode, PermissionDenied
from investment_system.models.refresh_tokens import RefreshToken
from investment_system.models.users import User
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.refresh_tokens import RefreshTokenRepository
from investment_system.repositories.users import UserRepository
from investment_system.schemas.auth import TokenPair
from investment_system.services.tokens import issue_token, token_lifetime, verify_refresh_token


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, *, now: datetime) -> TokenPair:
    """A token pair for a fresh login: the first refresh token of a new family."""
    return _issue_pair(session, user, family_id=uuid.uuid4(), jti=uuid.uuid4(), now=now)


def _issue_pair(session: Session, user: User, *, family_id: uuid.UUID, jti: uuid.UUID, now: datetime) -> TokenPair:
    refresh_token = issue_token(user.id, user.role, "refresh", jti=jti, now=now)
    RefreshTokenRepository(session).add(
        RefreshToken(
            id=jti,
            family_id=family_id,
            user_id=user.id,
            token_hash=token_digest(refresh_token),
            expires_at=now + token_lifetime("refresh"),
        )
    )
    return TokenPair(
        access_token=issue_token(user.id, user.role, "access", now=now),
        refresh_token=refresh_token,
        expires_in=int(token_lifetime("access").total_seconds()),
    )


def rotate(refresh_token: str) -> TokenPair:
    """A new pair for a valid refresh token, which is revoked; reuse of a revoked one revokes its family."""
    claims = verify_refresh_token(refresh_token)
    now = utcnow()
    with unit_of_work() as session:
        tokens = RefreshTokenRepository(session)
        stored = _stored(tokens, refresh_token, claims["sub"])
        successor = uuid.uuid4()
        # Conditional: of two requests presenting the same token, exactly one rotates it.
        rotated = tokens.revoke(stored, now=now, replaced_by=successor)
        if rotated:
            user = UserRepository(session).get(stored.user_id)
            if user is None:
                raise AuthenticationError(ErrorCode.TOKEN_INVALID)
            if not user.is_active:
                raise PermissionDenied(ErrorCode.ACCOUNT_DISABLED)
            pair = _issue_pair(session, user, family_id=stored.family_id, jti=successor, now=now)
        else:
            revoked = tokens.revoke_family(stored.family_id, now=now)
    if not rotated:
        add_metric(MetricName.REFRESH_TOKEN_REUSE)
        logger.warning(
            "Revoked refresh token presented again; its family is revoked",
            extra={"user_id": str(stored.user_id), "family_id": str(stored.family_id), "tokens_revoked": revoked},
        )
        raise AuthenticationError(ErrorCode.TOKEN_REVOKED)
    add_metric(MetricName.TOKEN_REFRESHES)
    return pair


def logout(user_id: uuid.UUID, refresh_token: str) -> None:
    """Revoke the family of one of the caller's refresh tokens.

    As in token revocation (RFC 7009), a token that is malformed, expired or unknown is simply
    not live, so there is nothing to revoke and no error; another user's live token is refused.
    """
    try:
        claims = verify_refresh_token(refresh_token)
    except AuthenticationError:
        return
    if claims["sub"] != str(user_id):
        raise PermissionDenied(ErrorCode.PERMISSION_DENIED, "This refresh token belongs to another user.")
    with unit_of_work() as session:
        tokens = RefreshTokenRepository(session)
        stored = tokens.by_hash(token_digest(refresh_token))
        if stored is not None:
            tokens.revoke_family(stored.family_id, now=utcnow())


def revoke_all_sessions(session: Session, user_id: uuid.UUID, *, now: datetime) -> int:
    """Revoke every refresh token of a user (password change, deactivation); how many were live."""
    return RefreshTokenRepository(session).revoke_all_of_user(user_id, now=now)


def _stored(tokens: RefreshTokenRepository, refresh_token: str, subject: str) -> RefreshToken:
    stored = tokens.by_hash(token_digest(refresh_token))
    # A well-signed token we never stored (or of another subject) is not one of ours.
    if stored is None or str(stored.user_id) != subject:
        raise AuthenticationError(ErrorCode.TOKEN_INVALID)
    return stored
