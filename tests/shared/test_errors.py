"""The error catalogue: every code the contract names, every code raised somewhere (or reserved for a
feature the contract announces), and the status of an error decided by its code alone."""

import ast
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

import investment_system
from investment_system import errors
from investment_system.errors import (
    CATALOGUE,
    RESERVED_BY_CONTRACT,
    AppError,
    AuthenticationError,
    ErrorCode,
    RateLimited,
)
from investment_system.http.envelope import error_headers

LAYER = Path(investment_system.__file__).resolve().parent
ROOT = LAYER.parents[2]
TESTS = ROOT / "tests"
# Where the API answers from: the shared layer and the functions (not the dev tools).
API_SOURCES = sorted(path for path in [*LAYER.rglob("*.py"), *(ROOT / "functions").rglob("*.py")])

# The error table of the contract (API.md, "Errors"): status -> codes.
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
    403: ["ACCOUNT_DISABLED", "PERMISSION_DENIED", "REGISTRATION_CLOSED"],
    404: ["ROUTE_NOT_FOUND", "USER_NOT_FOUND", "SIGNAL_NOT_FOUND", "PLAN_NOT_FOUND"],
    405: ["METHOD_NOT_ALLOWED"],
    409: ["EMAIL_ALREADY_REGISTERED", "SIGNAL_NOT_OPEN", "CANNOT_MODIFY_SELF", "IDEMPOTENCY_IN_PROGRESS"],
    412: ["PRECONDITION_FAILED"],
    413: ["PAYLOAD_TOO_LARGE"],
    415: ["UNSUPPORTED_MEDIA_TYPE"],
    422: ["VALIDATION_ERROR", "PASSWORD_TOO_WEAK", "INVALID_SIGNAL_LEVELS", "IDEMPOTENCY_KEY_REUSED"],
    423: ["ACCOUNT_LOCKED"],
    429: ["RATE_LIMIT_EXCEEDED", "QUOTA_EXCEEDED"],
    500: ["INTERNAL_ERROR"],
    503: ["DATABASE_UNAVAILABLE", "MAINTENANCE_MODE"],
}

APP_ERROR_CLASSES = {
    cls.__name__: cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, AppError)
}


def _code_references(path: Path) -> set[str]:
    """The `ErrorCode.<NAME>` a module names."""
    return {
        node.attr
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ErrorCode"
    }


def _error_constructions() -> list[tuple[str, str, str]]:
    """Every `<AppError class>(ErrorCode.<NAME>, ...)` of the API's source: (where, class, code)."""
    found = []
    for path in API_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in APP_ERROR_CLASSES or not node.args:
                continue
            code = node.args[0]
            if isinstance(code, ast.Attribute) and isinstance(code.value, ast.Name) and code.value.id == "ErrorCode":
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.func.id, code.attr))
    return found


def test_the_catalogue_gives_every_code_a_category_status_and_message():
    # Given the enum and the catalogue
    # Then they list the same codes, each with a status of an error, a message and a category
    assert set(CATALOGUE) == set(ErrorCode)
    for code, spec in CATALOGUE.items():
        assert 400 <= spec.status <= 599, code
        assert spec.message.strip(), code
        assert spec.category, code


@pytest.mark.parametrize(("status", "code"), [(s, c) for s, codes in CONTRACT_CODES.items() for c in codes])
def test_every_contract_code_has_the_contract_status(status, code):
    assert CATALOGUE[ErrorCode(code)].status == status


def test_every_code_is_raised_by_the_api_or_reserved_for_a_feature_the_contract_announces():
    # Given every ErrorCode the layer and the functions name outside the catalogue itself
    named = set().union(*(_code_references(path) for path in API_SOURCES if path != LAYER / "errors.py"))
    # Then each code is named there, or reserved, never both
    assert {code.name for code in ErrorCode} - named == {code.name for code in RESERVED_BY_CONTRACT}
    assert not named & {code.name for code in RESERVED_BY_CONTRACT}, "raised now: drop it from RESERVED_BY_CONTRACT"


def test_every_raised_code_is_named_by_a_test():
    # Given the text of every test but this one
    text = "\n".join(
        path.read_text(encoding="utf-8") for path in TESTS.rglob("*.py") if path.resolve() != Path(__file__).resolve()
    )
    # Then each code the API raises is asserted somewhere
    untested = [code.name for code in ErrorCode if code not in RESERVED_BY_CONTRACT and code.name not in text]
    assert not untested


def test_the_enum_sections_are_the_catalogue_categories():
    # Given the ErrorCode class's source, cut by its "# <category>:" comments
    source = Path(errors.__file__).read_text(encoding="utf-8")
    body = source[source.index("class ErrorCode(") : source.index("\n\n\n", source.index("class ErrorCode("))]
    section = None
    seen = []
    for line in body.splitlines()[1:]:
        if heading := re.match(r"\s*# (\w+):", line):
            section = heading.group(1)
            seen.append(section)
        elif member := re.match(r"\s*([A-Z_]+) = ", line):
            # Then every code sits under the heading of its category
            assert CATALOGUE[ErrorCode[member.group(1)]].category.value == section, member.group(1)
    # And each category has one section, in the order of the Category enum
    assert seen == [category.value for category in errors.Category]


@pytest.mark.parametrize(("where", "cls", "code"), _error_constructions())
def test_an_error_class_carries_only_codes_of_its_categories(where, cls, code):
    # Given an error the API builds: Then its class is one that stands for the code's category
    assert CATALOGUE[ErrorCode[code]].category in APP_ERROR_CLASSES[cls].categories, where


def test_each_error_class_stands_for_categories_no_other_class_claims():
    subclasses = [cls for cls in APP_ERROR_CLASSES.values() if cls is not AppError]
    claimed = [category for cls in subclasses for category in cls.categories]
    assert len(claimed) == len(set(claimed))


@pytest.mark.parametrize("code", list(ErrorCode))
def test_an_errors_status_is_its_codes_whatever_its_class(code):
    # Given an error of the code, built with each class that may carry it
    for cls in APP_ERROR_CLASSES.values():
        if CATALOGUE[code].category not in cls.categories:
            continue
        error = cls(code, 1) if cls is RateLimited else cls(code)
        # Then its status is the catalogue's for the code
        assert error.status == CATALOGUE[code].status


def test_an_unexpected_failure_of_a_websocket_route_answers_with_the_catalogues_status(monkeypatch):
    # Given a catalogue that gives INTERNAL_ERROR another status
    from investment_system.http.websocket import respond

    monkeypatch.setitem(CATALOGUE, ErrorCode.INTERNAL_ERROR, replace(CATALOGUE[ErrorCode.INTERNAL_ERROR], status=599))

    def failing(_request):
        raise RuntimeError("unexpected")

    # When a WebSocket route fails with something not an AppError
    reply = respond(failing, {"requestContext": {"routeKey": "$default", "connectionId": "c-1"}})
    # Then the answer is INTERNAL_ERROR with the status the catalogue gives it
    assert reply["statusCode"] == 599
    assert json.loads(reply["body"])["error"]["code"] == "INTERNAL_ERROR"


def test_app_error_defaults_to_the_catalogue_message():
    error = AppError(ErrorCode.SIGNAL_NOT_FOUND)
    assert error.status == 404
    assert error.message == "Signal not found."


def test_authentication_errors_carry_the_bearer_challenge():
    assert error_headers(AuthenticationError(ErrorCode.TOKEN_EXPIRED))["WWW-Authenticate"].startswith("Bearer")


def test_rate_limited_errors_carry_retry_after_of_at_least_one_second():
    assert RateLimited(ErrorCode.QUOTA_EXCEEDED, 0).retry_after == 1
    assert RateLimited(ErrorCode.RATE_LIMIT_EXCEEDED, 42).retry_after == 42
