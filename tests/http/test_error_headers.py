"""Errors carry typed data (a rate limit's decision, seconds to wait); `http` alone says them as headers."""

from investment_system.errors import AppError, AuthenticationError, ErrorCode, PermissionDenied, Unavailable
from investment_system.http.envelope import MethodNotAllowed, error_headers, error_response
from investment_system.services.system.rate_limit import RateLimitDecision, RateLimitExceeded


def test_a_refused_request_says_its_rate_limit_and_when_to_come_back():
    # Given the limiter's refusal, the subject's decision in it
    refusal = RateLimitExceeded(RateLimitDecision(limit=3, remaining=0, reset=31))
    # Then its response says the limit in the RateLimit-* headers, and Retry-After its reset
    assert error_headers(refusal) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "31",
        "Retry-After": "31",
    }
    assert error_response(refusal).headers["Retry-After"] == "31"


def test_an_error_that_may_be_repeated_says_when_and_one_that_may_not_says_nothing():
    # A database outage before the commit, a lockout: Retry-After their seconds (at least 1)
    assert error_headers(Unavailable(ErrorCode.DATABASE_UNAVAILABLE, retry_after=1)) == {"Retry-After": "1"}
    assert error_headers(PermissionDenied(ErrorCode.ACCOUNT_LOCKED, retry_after=0)) == {"Retry-After": "1"}
    # An outage during the commit (its outcome unknown), any other error: no header
    assert error_headers(Unavailable(ErrorCode.DATABASE_UNAVAILABLE)) == {}
    assert error_headers(AppError(ErrorCode.INTERNAL_ERROR)) == {}


def test_a_missing_or_bad_credential_says_how_to_authenticate():
    assert error_headers(AuthenticationError(ErrorCode.TOKEN_EXPIRED)) == {"WWW-Authenticate": 'Bearer realm="invest"'}


def test_a_method_the_path_does_not_serve_says_which_it_does():
    assert error_headers(MethodNotAllowed(["GET", "POST"])) == {"Allow": "GET, POST"}
