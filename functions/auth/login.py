"""POST /v1/auth/login: exchange email and password for a token pair."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import RateLimit, create_app, error_responses, links, route_facts
from investment_system.schemas.auth import LoginCredentials, TokenPair
from investment_system.services.accounts.credentials import login

app = create_app()


@app.post(
    "/v1/auth/login",
    operation_id="login",
    summary="Log in",
    description="The same 401 INVALID_CREDENTIALS for an unknown email and a wrong password. After "
    "LOCKOUT_THRESHOLD failed attempts the account is locked (423 ACCOUNT_LOCKED, Retry-After).",
    tags=["Auth"],
    responses={
        200: {
            "description": "A token pair",
            "links": links(("refreshTokens",), request_body={"refresh_token": "$response.body#/refresh_token"}),
        },
        **error_responses(401, 403, 423),
    },
    # Not stopped by maintenance: admins must be able to sign in.
    openapi_extensions=route_facts(rate_limit=RateLimit.PER_IP, changes_data=False),
)
def post_login(credentials: LoginCredentials) -> TokenPair:
    return login(credentials)


handler = http_handler(
    app, sample=lambda world: [SampleRequest(body={"email": world.investor.email, "password": world.password})]
)
