"""The error catalogue: complete, consistent, and covering every code of the contract."""

import pytest

from investment_system.errors import CATALOGUE, AppError, AuthenticationError, ErrorCode, RateLimited
from investment_system.http.envelope import error_headers

# The error table of the API reference (docs/api.md, "Errors"): status -> codes.
CONTRACT_CODES = {
    400: ["MALFORMED_JSON", "INVALID_CURRENT_PASSWORD", "INVALID_CURSOR"],
    401: [
        "AUTHENTICATION_REQUIRED",
        "TOKEN_INVALID",
        "TOKEN_EXPIRED",
        "TOKEN_REVOKED",
        "INVALID_CREDENTIALS",
        "WEBHOOK_SIGNATURE_INVALID",
    ],
    403: ["ACCOUNT_DISABLED", "PERMISSION_DENIED"],
    404: ["ROUTE_NOT_FOUND", "USER_NOT_FOUND", "SIGNAL_NOT_FOUND", "PLAN_NOT_FOUND"],
    405: ["METHOD_NOT_ALLOWED"],
    409: ["EMAIL_ALREADY_REGISTERED", "SIGNAL_NOT_OPEN", "CANNOT_MODIFY_SELF", "IDEMPOTENCY_IN_PROGRESS"],
    422: ["VALIDATION_ERROR", "PASSWORD_TOO_WEAK", "INVALID_SIGNAL_LEVELS", "IDEMPOTENCY_KEY_REUSED"],
    423: ["ACCOUNT_LOCKED"],
    429: ["RATE_LIMIT_EXCEEDED", "QUOTA_EXCEEDED"],
    500: ["INTERNAL_ERROR"],
    503: ["DATABASE_UNAVAILABLE"],
}


def test_catalogue_has_at_least_fifty_codes_each_with_category_status_and_message():
    assert len(CATALOGUE) >= 50
    assert set(CATALOGUE) == set(ErrorCode)
    for code, spec in CATALOGUE.items():
        assert 400 <= spec.status <= 599, code
        assert spec.message.strip(), code
        assert spec.category, code


@pytest.mark.parametrize(("status", "code"), [(s, c) for s, codes in CONTRACT_CODES.items() for c in codes])
def test_every_contract_code_has_the_contract_status(status, code):
    assert CATALOGUE[ErrorCode(code)].status == status


def test_app_error_defaults_to_the_catalogue_message():
    error = AppError(ErrorCode.SIGNAL_NOT_FOUND)
    assert error.status == 404
    assert error.message == "Signal not found."


def test_authentication_errors_carry_the_bearer_challenge():
    assert error_headers(AuthenticationError(ErrorCode.TOKEN_EXPIRED))["WWW-Authenticate"].startswith("Bearer")


def test_rate_limited_errors_carry_retry_after_of_at_least_one_second():
    assert RateLimited(ErrorCode.QUOTA_EXCEEDED, 0).retry_after == 1
    assert RateLimited(ErrorCode.RATE_LIMIT_EXCEEDED, 42).retry_after == 42
