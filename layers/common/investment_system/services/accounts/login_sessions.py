"""Sessions: one per login, with its access/refresh token pairs, refresh rotation, reuse detection,
and what ends tokens before they expire.

A session lasts at most `REFRESH_FAMILY_MAX_AGE_SECONDS` and has one live refresh token, rotated on
each refresh (its row locked, so parallel refreshes leave one). A replaced token presented again
within `REFRESH_REUSE_GRACE_SECONDS` is a repeat and gets a pair of the same session; later, it was
copied, and the session ends. Tokens stop working when their session ends or the user's token epoch
moves on; refresh tokens are stored as SHA-256 digests. The rules: docs/security.md#sessions.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from investment_system.db import read_only, single_statement_write, unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import AuthenticationError, ErrorCode
from investment_system.models.refresh_tokens import RefreshToken
from investment_system.models.sessions import UserSession
from investment_system.models.users import User
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.accounts.login_sessions import SessionRepository
from investment_system.repositories.accounts.refresh_tokens import RefreshTokenRepository
from investment_system.repositories.accounts.rotations import RotationRepository
from investment_system.repositories.accounts.users import failed_logins_cleared
from investment_system.repositories.base import insertion, run_together
from investment_system.schemas.auth import TokenPair
from investment_system.schemas.plans import Plan
from investment_system.services.accounts.authentication import live_session
from investment_system.services.accounts.revocation import end_sessions
from investment_system.services.accounts.tokens import TokenType, issue_token, token_lifetime, verify_refresh_token
from investment_system.services.billing.plan_terms import plan_of, plan_of_user
from investment_system.settings import get_settings


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_session(user_id: uuid.UUID, now: datetime) -> UserSession:
    """A login's session, every column given (`repositories.base.insertion`): it lasts at most
    REFRESH_FAMILY_MAX_AGE_SECONDS."""
    max_age = timedelta(seconds=get_settings().security.refresh_family_max_age_seconds)
    return UserSession(
        id=uuid.uuid4(), user_id=user_id, expires_at=now + max_age, revoked_at=None, created_at=now, updated_at=now
    )


def _new_refresh_token(
    token_id: uuid.UUID,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    token_hash: str,
    expires_at: datetime,
    now: datetime,
) -> RefreshToken:
    return RefreshToken(
        id=token_id,
        family_id=session_id,
        user_id=user_id,
        token_hash=token_hash,
        expires_at=expires_at,
        revoked_at=None,
        replaced_by=None,
        created_at=now,
        updated_at=now,
    )


def open_session(user: User, *, now: datetime) -> TokenPair:
    """A new session for a fresh login, and its first token pair, the user's failed logins cleared: the
    plan read, then the three writes in one statement on PostgreSQL (`repositories.base.run_together`)."""
    with read_only() as session:
        plan = plan_of_user(session, user.id, now)
    user_session = _new_session(user.id, now)
    pair, refresh = _pair(user, user_session, plan, jti=uuid.uuid4(), now=now)
    with single_statement_write() as session:
        run_together(session, [failed_logins_cleared(user.id), insertion(user_session), insertion(refresh)])
    return pair


def start_session(session: Session, user: User, *, now: datetime) -> TokenPair:
    """A new session for a fresh login, and its first token pair, in the caller's transaction."""
    user_session = SessionRepository(session).add(_new_session(user.id, now))
    return _issue_pair(session, user, user_session, jti=uuid.uuid4(), now=now)


def rotate(refresh_token: str) -> TokenPair:
    """A new pair for the session's live refresh token, which it replaces. A replaced one presented again
    within the grace period is a repeat: its new pair replaces the live one. Later, it ends the session
    (401 TOKEN_REVOKED)."""
    claims = verify_refresh_token(refresh_token)
    family_id = uuid.UUID(claims["sid"])
    now = utcnow()
    grace = timedelta(seconds=get_settings().security.refresh_reuse_grace_seconds)
    with unit_of_work() as session:
        # A session's rotations run one at a time, each reading what the one before it committed: of
        # many presentations at once, each replaces its predecessor's pair, and one pair stays live.
        # On PostgreSQL: BEGIN, the locked read, the replacement, COMMIT.
        rotation = RotationRepository(session).locked_for_rotation(
            family_id, uuid.UUID(claims["sub"]), token_digest(refresh_token)
        )
        if rotation is None:  # a well-signed token we never stored, or of another subject or session
            raise AuthenticationError(ErrorCode.TOKEN_INVALID)
        stored = rotation.token
        user, user_session = live_session((rotation.user, rotation.session), claims["epoch"])
        if user_session.expires_at <= now:
            raise AuthenticationError(ErrorCode.TOKEN_EXPIRED)
        revoked = 0
        if stored.revoked_at is None or _is_retry(stored, now=now, grace=grace):
            plan = plan_of(session, rotation.subscription, now)
            pair: TokenPair | None
            pair, successor = _pair(user, user_session, plan, jti=uuid.uuid4(), now=now)
            RefreshTokenRepository(session).replace_live_with(successor, now=now)
        else:
            pair = None
            revoked = end_sessions(session, stored.user_id, {family_id}, now=now)
    if pair is None:
        add_metric(MetricName.REFRESH_TOKEN_REUSE)
        logger.warning(
            "Revoked refresh token presented again; its session is ended",
            extra={"user_id": str(stored.user_id), "family_id": str(family_id), "tokens_revoked": revoked},
        )
        raise AuthenticationError(ErrorCode.TOKEN_REVOKED)
    add_metric(MetricName.TOKEN_REFRESHES)
    return pair


def _issue_pair(session: Session, user: User, user_session: UserSession, *, jti: uuid.UUID, now: datetime) -> TokenPair:
    """A token pair of the session, its refresh token stored, in the caller's transaction."""
    pair, refresh = _pair(user, user_session, plan_of_user(session, user.id, now), jti=jti, now=now)
    RefreshTokenRepository(session).add(refresh)
    return pair


def _pair(
    user: User, user_session: UserSession, plan: Plan, *, jti: uuid.UUID, now: datetime
) -> tuple[TokenPair, RefreshToken]:
    """A token pair of the session, and the refresh token's row to store."""

    # The access token carries the plan's code and request rate, read at each login and refresh: the
    # guards read who calls without reading the database (http/rate_limit.py, http/maintenance.py).
    def token(
        token_type: TokenType,
        expires_at: datetime,
        token_id: uuid.UUID | None = None,
        rate: int | None = None,
        plan_code: str | None = None,
    ) -> str:
        return issue_token(
            user.id,
            user.role,
            token_type,
            session_id=user_session.id,
            epoch=user.token_epoch,
            expires_at=expires_at,
            jti=token_id,
            now=now,
            requests_per_minute=rate,
            plan=plan_code,
        )

    # No token outlives its session.
    refresh_expires_at = min(now + token_lifetime("refresh"), user_session.expires_at)
    access_expires_at = min(now + token_lifetime("access"), user_session.expires_at)
    refresh_token = token("refresh", refresh_expires_at, jti)
    refresh = _new_refresh_token(jti, user_session.id, user.id, token_digest(refresh_token), refresh_expires_at, now)
    pair = TokenPair(
        access_token=token(
            "access", access_expires_at, rate=plan.quotas.requests_per_minute, plan_code=plan.code.value
        ),
        refresh_token=refresh_token,
        expires_in=int((access_expires_at - now).total_seconds()),
    )
    return pair, refresh


def _is_retry(token: RefreshToken, *, now: datetime, grace: timedelta) -> bool:
    """Whether a revoked token was replaced (rotated, or retired by a repeat's pair; not revoked with its
    session) no longer than `grace` ago."""
    return token.replaced_by is not None and token.revoked_at is not None and now - token.revoked_at <= grace
