"""Property: whatever the interleaving of rotations, repeats and time passing, a session has at most one
refresh token that can be rotated (SQLite; the rotation's statements are the same on every database).

Each example logs one user in twice (two sessions) and runs a sequence of steps: a refresh token of
either session presented (the live one, or any replaced one: a repeat within the grace period, or
reuse after it), or time passing on the sessions' clock, across the grace period's edge. Each answer
is checked against a model of the contract (API.md, Auth), and after each step the database holds one
live refresh token per live session (none for an ended one), the one the model says.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import AppError, ErrorCode
from investment_system.models import RefreshToken
from investment_system.schemas.auth import LoginCredentials, UserRegistration
from investment_system.services.accounts import credentials, login_sessions
from investment_system.services.accounts.tokens import verify_refresh_token
from investment_system.settings import get_settings

PASSWORD = "Plum-Orchard-Ledger-42"
GRACE = get_settings().security.refresh_reuse_grace_seconds
SESSIONS = 2

steps = st.one_of(
    # a refresh token of a session: its n-th issued (modulo how many it has), or the live one
    st.tuples(st.just("present"), st.integers(0, SESSIONS - 1), st.one_of(st.none(), st.integers(0, 50))),
    # seconds passing: within the grace period, to its edge, past it
    st.tuples(st.just("wait"), st.sampled_from([0, 1, GRACE - 1, GRACE, GRACE + 1, 60])),
)


@dataclass
class Family:
    """The model of one session: its refresh tokens in the order issued, and which is live."""

    session_id: str
    tokens: list[str]
    live: str | None
    replaced_at: dict[str, datetime] = field(default_factory=dict)

    def present(self, token: str, now: datetime) -> bool:
        """What the contract says of presenting `token` now: a new pair (True) or the session ends (False)."""
        if self.live is None:
            return False
        replaced = self.replaced_at.get(token)
        if token != self.live and (replaced is None or now - replaced > timedelta(seconds=GRACE)):
            self.live = None
            return False
        self.replaced_at[self.live] = now
        return True

    def issued(self, token: str) -> None:
        self.tokens.append(token)
        self.live = token


def _jti(token: str) -> uuid.UUID:
    return uuid.UUID(verify_refresh_token(token)["jti"])


def _live_tokens() -> dict[str, list[uuid.UUID]]:
    """Every session's refresh tokens that are not revoked, by session."""
    live: dict[str, list[uuid.UUID]] = {}
    with unit_of_work() as session:
        for token in session.scalars(select(RefreshToken).where(RefreshToken.revoked_at.is_(None))):
            live.setdefault(str(token.family_id), []).append(token.id)
    return live


@pytest.fixture
def clock(monkeypatch):
    """The sessions' clock, which the test sets and moves on."""
    now = [utcnow()]
    monkeypatch.setattr(login_sessions, "utcnow", lambda: now[0])
    return now


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(steps, min_size=1, max_size=25))
def test_a_session_never_has_two_refresh_tokens_that_can_be_rotated(sqlite_db, clock, sequence):
    # Given a user signed in twice, and the sessions' clock an hour back: the tokens a rotation issues are
    # never premature to the next one's check (in real time), however far a sequence moves the clock on
    email = f"{uuid.uuid4().hex}@example.com"
    credentials.register(UserRegistration(email=email, password=PASSWORD))
    families = []
    for _ in range(SESSIONS):
        pair = credentials.login(LoginCredentials(email=email, password=PASSWORD))
        families.append(
            Family(verify_refresh_token(pair.refresh_token)["sid"], [pair.refresh_token], pair.refresh_token)
        )
    clock[0] = utcnow() - timedelta(hours=1)
    for step in sequence:
        # When a refresh token is presented, or time passes
        if step[0] == "wait":
            clock[0] += timedelta(seconds=step[1])
        else:
            family = families[step[1]]
            token = family.tokens[step[2] % len(family.tokens)] if step[2] is not None else family.live
            if token is None:  # the session ended: its last token
                token = family.tokens[-1]
            if family.present(token, clock[0]):
                # Then a presentation the contract allows gets a pair of the session
                pair = login_sessions.rotate(token)
                assert verify_refresh_token(pair.refresh_token)["sid"] == family.session_id
                family.issued(pair.refresh_token)
            else:
                # And one it refuses is refused as revoked: the session ends
                with pytest.raises(AppError) as refused:
                    login_sessions.rotate(token)
                assert refused.value.code is ErrorCode.TOKEN_REVOKED
        # And every session has one refresh token that can be rotated, the last issued, or none once ended
        live = _live_tokens()
        for family in families:
            assert live.get(family.session_id, []) == ([_jti(family.live)] if family.live else [])
