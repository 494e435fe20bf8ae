"""Checking access tokens: a token that passed is remembered, and only its expiry is checked again."""

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from investment_system.errors import AuthenticationError, ErrorCode
from investment_system.services.accounts import tokens
from investment_system.settings import get_settings
from tests.support.functions import record_calls


def _access_token(lifetime: timedelta = timedelta(minutes=15)) -> str:
    now = datetime.now(UTC)
    return tokens.issue_token(
        uuid.uuid4(), "user", "access", session_id=uuid.uuid4(), epoch=0, expires_at=now + lifetime, now=now
    )


def _refusal(token: str) -> ErrorCode:
    with pytest.raises(AuthenticationError) as refused:
        tokens.verify_access_token(token)
    return refused.value.code


@pytest.fixture
def decodes(monkeypatch):
    """The tokens PyJWT decodes from here on."""
    return record_calls(monkeypatch, tokens.jwt, "decode")


def test_a_token_presented_again_is_not_decoded_again(settings_env, decodes):
    # Given an access token, checked once (the rate-limit guard)
    token = _access_token()
    first = tokens.verify_access_token(token)
    # When it is checked again (authentication), and on the client's next requests
    again = [tokens.verify_access_token(token) for _ in range(3)]
    # Then every check has the same claims, and the token was decoded once
    assert again == [first] * 3
    assert decodes == [token]


def test_a_token_that_passed_is_refused_once_it_expires(settings_env, monkeypatch):
    # Given an access token that passed its check
    token = _access_token(lifetime=timedelta(minutes=15))
    tokens.verify_access_token(token)
    # When it is presented after its expiry and the leeway
    leeway = get_settings().security.jwt_leeway_seconds
    later = datetime.now(UTC) + timedelta(minutes=15, seconds=leeway + 1)
    monkeypatch.setattr(tokens, "time", SimpleNamespace(time=later.timestamp))
    # Then it is refused as expired, as a token never checked before would be
    assert _refusal(token) is ErrorCode.TOKEN_EXPIRED


def test_a_token_that_passed_is_refused_once_the_secret_changes(settings_env):
    # Given an access token that passed its check under the configured secret
    token = _access_token()
    tokens.verify_access_token(token)
    # When the secret changes (a rotation read after a SnapStart restore)
    settings_env.setenv("JWT_SECRET", "another-secret-of-at-least-32-bytes-0123456789")
    get_settings.cache_clear()
    # Then the token is checked again, and refused
    assert _refusal(token) is ErrorCode.TOKEN_INVALID


def test_a_refused_token_is_decoded_and_refused_every_time(settings_env, decodes):
    # Given a token whose signature was tampered with
    token = _access_token()
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    # When it is presented twice
    refusals = [_refusal(forged), _refusal(forged)]
    # Then it is refused both times, each time after decoding it: a refusal is not remembered
    assert refusals == [ErrorCode.TOKEN_INVALID] * 2
    assert decodes == [forged, forged]


def test_the_claims_a_caller_gets_are_its_own_to_change(settings_env):
    # Given the claims of a checked token, changed by their caller
    token = _access_token()
    tokens.verify_access_token(token)["sub"] = "someone else"
    # When the token is checked again
    # Then its claims are the token's
    assert tokens.verify_access_token(token)["sub"] != "someone else"
