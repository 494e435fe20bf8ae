"""Password hashing (argon2id) and the password policy."""

import pytest
from argon2 import PasswordHasher, Type

from investment_system.errors import ErrorCode, ValidationFailed
from investment_system.services.accounts import passwords
from investment_system.services.accounts.passwords import (
    enforce_password_policy,
    hash_password,
    needs_rehash,
    policy_violations,
    verify_against_dummy,
    verify_password,
)
from investment_system.settings import get_settings

GOOD = "Plum-Orchard-Ledger-42"


def _rules(password: str, email: str = "ada@example.com") -> set[str]:
    return {violation["type"] for violation in policy_violations(password, email)}


def test_hash_is_argon2id_with_the_configured_parameters_and_verifies():
    # Given the test settings' (cheap) argon2 parameters
    security = get_settings().security
    # When a password is hashed
    stored = hash_password(GOOD)
    # Then the hash is argon2id with those parameters, never the password itself
    assert stored.startswith("$argon2id$")
    assert f"m={security.argon2_memory_kib},t={security.argon2_time_cost},p={security.argon2_parallelism}" in stored
    assert GOOD not in stored
    # And it verifies the right password only
    assert verify_password(stored, GOOD)
    assert not verify_password(stored, GOOD + "x")


def test_a_malformed_stored_hash_is_a_mismatch_not_an_error():
    assert verify_password("not-a-hash", GOOD) is False
    assert needs_rehash("not-a-hash") is True


def test_weaker_stored_hash_needs_rehash_and_stronger_one_is_kept():
    security = get_settings().security
    weaker = PasswordHasher(memory_cost=security.argon2_memory_kib // 2, time_cost=security.argon2_time_cost)
    stronger = PasswordHasher(memory_cost=security.argon2_memory_kib * 2, time_cost=security.argon2_time_cost + 1)
    argon2i = PasswordHasher(memory_cost=security.argon2_memory_kib, time_cost=security.argon2_time_cost, type=Type.I)
    assert needs_rehash(weaker.hash(GOOD))
    assert needs_rehash(argon2i.hash(GOOD))
    assert not needs_rehash(stronger.hash(GOOD))
    assert not needs_rehash(hash_password(GOOD))


def test_unknown_email_costs_one_argon2_verification(monkeypatch):
    # Given a count of argon2 verifications
    calls = []
    real_verify = PasswordHasher.verify
    monkeypatch.setattr(PasswordHasher, "verify", lambda self, h, p: calls.append(h) or real_verify(self, h, p))
    # When the dummy verification runs for a password
    verify_against_dummy(GOOD)
    # Then exactly one argon2 verification ran, against a hash with the current parameters
    assert len(calls) == 1
    assert not needs_rehash(calls[0])


def test_good_password_passes_the_policy():
    assert policy_violations(GOOD, "ada@example.com") == []
    enforce_password_policy(GOOD, "ada@example.com")


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Short-1a", "min_length"),
        ("A1-" + "x" * 200, "max_length"),
        ("alllowercaseletters", "character_classes"),
        ("Ada.Lovelace-1815!", "contains_email"),
        ("Password1234", "common_password"),
    ],
)
def test_each_policy_rule_is_reported(password, rule):
    assert rule in _rules(password, "ada.lovelace@example.com" if rule == "contains_email" else "ada@example.com")


def test_local_part_rule_is_case_insensitive_and_ignores_very_short_local_parts():
    assert "contains_email" in _rules("xx-JOHNNY-xx-2024", "johnny@example.com")
    assert "contains_email" not in _rules("Plum-Orchard-Ledger-42", "pl@example.com")


def test_every_failed_rule_is_listed_in_the_error_details():
    # Given a password breaking three rules at once
    # When the policy is enforced
    with pytest.raises(ValidationFailed) as raised:
        enforce_password_policy("ada", "ada@example.com")
    # Then the error is PASSWORD_TOO_WEAK and its details name each failed rule, in the envelope's shape
    assert raised.value.code is ErrorCode.PASSWORD_TOO_WEAK
    assert {d["type"] for d in raised.value.details} == {"min_length", "character_classes", "contains_email"}
    assert all(d["field"] == "password" and d["message"] for d in raised.value.details)


def test_policy_follows_the_settings(settings_env):
    # Given a stricter minimum length and all four character classes required
    settings_env.setenv("PASSWORD_MIN_LENGTH", "30")
    settings_env.setenv("PASSWORD_REQUIRE_CLASSES", "4")
    # Then a password that was good is refused for both rules
    assert _rules("plum-orchard-ledger-42") == {"min_length", "character_classes"}


def test_hasher_follows_changed_argon2_settings(settings_env):
    settings_env.setenv("ARGON2_MEMORY_KIB", "128")
    assert "m=128," in hash_password(GOOD)
    assert passwords.needs_rehash(PasswordHasher(memory_cost=64, time_cost=1).hash(GOOD))
