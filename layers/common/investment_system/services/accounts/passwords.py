"""Password hashing (argon2id, parameters from settings) and the password policy.

A stored hash may also be bcrypt: accounts imported from the previous system (`invest import-users`)
keep its hashes until their first login, which verifies the bcrypt hash and rehashes the password
with argon2id (`needs_rehash` is true for anything but argon2id at the current parameters).

Only the functions that check or set a password import this module: argon2 and bcrypt are loaded
where they are needed (login, register, password change), not on every cold start.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import bcrypt
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from investment_system.errors import ErrorCode, ValidationFailed
from investment_system.observability import traced
from investment_system.schemas.users import BCRYPT_HASH
from investment_system.services.accounts.common_passwords import COMMON_PASSWORDS
from investment_system.settings import SecuritySettings, get_settings

# A local part this short ("a", "jo") would match too many good passwords to be worth refusing.
_MIN_LOCAL_PART_CHECKED = 3
_BCRYPT_HASH = re.compile(BCRYPT_HASH)
# bcrypt reads the first 72 bytes of a password and ignores the rest; bcrypt 5 refuses longer input
# instead, so the check hands it those 72 bytes, as the previous system's hashing did.
_BCRYPT_MAX_BYTES = 72


def _hasher() -> PasswordHasher:
    security = get_settings().security
    return _hasher_for(security.argon2_time_cost, security.argon2_memory_kib, security.argon2_parallelism)


@cache
def _hasher_for(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)


def hash_password(password: str) -> str:
    with traced("password_hash"):
        return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches an argon2 or (imported) bcrypt hash; a malformed stored hash counts
    as a mismatch."""
    if _BCRYPT_HASH.fullmatch(password_hash):
        try:
            with traced("password_verify"):
                return bcrypt.checkpw(password.encode()[:_BCRYPT_MAX_BYTES], password_hash.encode())
        except ValueError:  # "Invalid salt"
            return False
    try:
        with traced("password_verify"):
            return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash is weaker than one made now: not argon2id (an imported bcrypt hash),
    or less memory, fewer passes, a shorter salt or digest. (A hash stronger than the settings is kept.)"""
    try:
        stored = extract_parameters(password_hash)
    except InvalidHashError:
        return True
    current = _hasher()
    return (
        stored.type is not Type.ID
        or stored.memory_cost < current.memory_cost
        or stored.time_cost < current.time_cost
        or stored.salt_len < current.salt_len
        or stored.hash_len < current.hash_len
    )


@cache
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher_for(time_cost, memory_kib, parallelism).hash("not-a-real-password: timing equaliser")


def verify_against_dummy(password: str) -> None:
    """Spend the time a real verification takes, so an unknown email answers as slowly as a wrong password."""
    security = get_settings().security
    verify_password(
        _dummy_hash(security.argon2_time_cost, security.argon2_memory_kib, security.argon2_parallelism), password
    )


def policy_violations(password: str, email: str, security: SecuritySettings | None = None) -> list[dict[str, Any]]:
    """Every rule of the password policy that `password` breaks, in the envelope's `details` shape."""
    security = security or get_settings().security
    violations: list[dict[str, Any]] = []

    def fail(rule: str, message: str) -> None:
        violations.append({"field": "password", "message": message, "type": rule})

    if len(password) < security.password_min_length:
        fail("min_length", f"Use at least {security.password_min_length} characters.")
    if len(password) > security.password_max_length:
        fail("max_length", f"Use at most {security.password_max_length} characters.")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < security.password_require_classes:
        fail(
            "character_classes",
            f"Mix at least {security.password_require_classes} of: lower-case letters, upper-case letters, "
            "digits, other characters.",
        )
    local_part = email.split("@", 1)[0].strip().lower()
    if len(local_part) >= _MIN_LOCAL_PART_CHECKED and local_part in password.lower():
        fail("contains_email", "Do not use your email address in the password.")
    if password.lower() in COMMON_PASSWORDS:
        fail("common_password", "This password is too common.")
    return violations


def enforce_password_policy(password: str, email: str) -> None:
    """422 PASSWORD_TOO_WEAK listing every failed rule, or nothing."""
    violations = policy_violations(password, email)
    if violations:
        raise ValidationFailed(ErrorCode.PASSWORD_TOO_WEAK, details=violations)
