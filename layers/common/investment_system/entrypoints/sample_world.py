"""What a function's sample requests find when they are replayed before a SnapStart snapshot
(entrypoints/priming.py): an investor and an administrator signed in, an open signal of the investor, a
stream ticket and connection, the plan catalogue where the function maps plans. Each is made when a
sample first asks for it, on the replay's scratch database and inside `db.engine.seeding` (which
compiles none of it), as rows written through the repositories: so that making it loads no module
(password hashing, another domain's services) the function would not load itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from investment_system.db.base import Base, utcnow
from investment_system.db.engine import seeding, unit_of_work

# What both sample accounts sign in with, and its argon2id hash (OWASP's parameters): a login's replay
# checks it as a real one would, and no other replay hashes anything. The refresh token's digest is a
# SHA-256 as services/accounts/login_sessions.token_digest makes it.
SAMPLE_PASSWORD = "Plum-Orchard-Ledger-42"  # noqa: S105 (the replay's scratch accounts only)
_SAMPLE_PASSWORD_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$ygi6rthaCI2mM3qzCYKTWQ$6FkgF1pwUEOuiTpRzFjpp/e0NeVfR2qs2Zz3TsEoCTY"  # noqa: S105
)


@dataclass(frozen=True)
class SignedIn:
    user_id: uuid.UUID
    email: str
    session_id: uuid.UUID
    access_token: str


class SampleWorld:
    """The sample state, made on first use; `password` is both accounts'."""

    password = SAMPLE_PASSWORD
    # A signal as POST /v1/signals takes it.
    signal_body: Mapping[str, Any] = {
        "symbol": "AAPL",
        "direction": "BUY",
        "confidence": "0.72",
        "entry_price": "187.25",
        "target_price": "201.50",
        "stop_loss": "179.90",
        "timeframe": "1d",
    }

    @cached_property
    def investor(self) -> SignedIn:
        return self._signed_in("investor@example.com", "user")

    @cached_property
    def admin(self) -> SignedIn:
        return self._signed_in("admin@example.com", "admin")

    @cached_property
    def refresh_token(self) -> str:
        """A refresh token of the investor's session, stored as a login stores it."""
        import hashlib

        from investment_system.models.refresh_tokens import RefreshToken
        from investment_system.repositories.accounts.refresh_tokens import RefreshTokenRepository
        from investment_system.services.accounts.tokens import issue_token

        investor, now, token_id = self.investor, utcnow(), uuid.uuid4()
        expires_at = now + timedelta(days=1)
        token = issue_token(
            investor.user_id,
            "user",
            "refresh",
            session_id=investor.session_id,
            epoch=0,
            expires_at=expires_at,
            jti=token_id,
            now=now,
        )
        digest = hashlib.sha256(token.encode()).hexdigest()
        with seeding(), unit_of_work() as session:
            RefreshTokenRepository(session).add(
                RefreshToken(
                    id=token_id,
                    family_id=investor.session_id,
                    user_id=investor.user_id,
                    token_hash=digest,
                    expires_at=expires_at,
                )
            )
        return token

    @cached_property
    def signal_id(self) -> uuid.UUID:
        """An OPEN signal of the investor."""
        from investment_system.models.signals import Signal
        from investment_system.repositories.signals.signals import SignalRepository

        investor, now, body = self.investor, utcnow(), self.signal_body
        prices = {name: Decimal(body[name]) for name in ("confidence", "entry_price", "target_price", "stop_loss")}
        row = Signal(
            user_id=investor.user_id,
            symbol=body["symbol"],
            direction=body["direction"],
            timeframe=body["timeframe"],
            status="OPEN",
            created_at=now,
            updated_at=now,
            **prices,
        )
        with seeding(), unit_of_work() as session:
            return SignalRepository(session).add(row).id

    @cached_property
    def ticket(self) -> str:
        """A stream ticket of the investor's session."""
        from investment_system.services.stream.connections import issue_ticket

        investor = self.investor
        with seeding():
            return issue_ticket(investor.user_id, investor.session_id).ticket

    @cached_property
    def connection_id(self) -> str:
        """An open stream connection of the investor."""
        from investment_system.services.stream.connections import connect

        ticket = self.ticket
        with seeding():
            connect(ticket, "sample-connection")
        return "sample-connection"

    def signed_payment_event(self, event_type: str) -> dict[str, Any]:
        """The body and signature header of a payment provider's event for the investor, signed now."""
        import json
        import time

        from investment_system.services.billing.plan_terms import add_months
        from investment_system.services.billing.webhooks import SIGNATURE_HEADER, sign
        from investment_system.settings import get_settings

        period_end = add_months(utcnow()).isoformat()
        data = {"user_id": str(self.investor.user_id), "plan": "pro", "amount_cents": 2900, "currency": "USD"}
        body = json.dumps(
            {"id": "evt_snapstart_replay", "type": event_type, "data": {**data, "period_end": period_end}}
        )
        now = int(time.time())
        signature = sign(get_settings().security.payment_webhook_secret, now, body.encode())
        return {"body": body, "headers": {SIGNATURE_HEADER: f"t={now},v1={signature}"}}

    def _signed_in(self, email: str, role: str) -> SignedIn:
        """An account with a live session, and an access token of it as a login issues one."""
        from investment_system.models.sessions import UserSession
        from investment_system.models.users import User
        from investment_system.repositories.accounts.login_sessions import SessionRepository
        from investment_system.repositories.accounts.users import UserRepository
        from investment_system.services.accounts.tokens import issue_token

        self._plans  # noqa: B018 (made once, before the first account)
        now = utcnow()
        with seeding(), unit_of_work() as session:
            user = UserRepository(session).add(
                User(email=email, password_hash=_SAMPLE_PASSWORD_HASH, role=role, is_active=True, failed_login_count=0)
            )
            login = SessionRepository(session).add(
                UserSession(id=uuid.uuid4(), user_id=user.id, expires_at=now + timedelta(days=1))
            )
            user_id, session_id, epoch = user.id, login.id, user.token_epoch
        token = issue_token(
            user_id, role, "access", session_id=session_id, epoch=epoch, expires_at=now + timedelta(minutes=15), now=now
        )
        return SignedIn(user_id, email, session_id, token)

    @cached_property
    def _plans(self) -> bool:
        """The released catalogue as plan rows, where the function maps the plans table (its quotas, prices)."""
        if "plans" not in Base.metadata.tables:
            return False
        from investment_system.services.billing.plans import add_released_catalogue

        with seeding(), unit_of_work() as session:
            add_released_catalogue(session)
        return True
