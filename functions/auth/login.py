"""POST /v1/auth/login: exchange email and password for a token pair."""

from investment_system.entrypoints import http_handler
from investment_system.http import RateLimit, create_app, error_responses, route_facts
from investment_system.schemas.auth import Credentials, TokenPair
from investment_system.services.accounts.credentials import login

app = create_app()


@app.post(
    "/v1/auth/login",
    operation_id="login",
    summary="Log in",
    description="The same 401 INVALID_CREDENTIALS for an unknown email and a wrong password. After "
    "LOCKOUT_THRESHOLD failed attempts the account is locked (423 ACCOUNT_LOCKED, Retry-After).",
    tags=["Auth"],
    responses={200: {"description": "A token pair"}, **error_responses(401, 403, 423)},
    openapi_extensions=route_facts(rate_limit=RateLimit.PER_IP),
)
def post_login(credentials: Credentials) -> TokenPair:
    return login(credentials)


handler = http_handler(app)
