"""POST /v1/auth/refresh: rotate a refresh token into a new token pair."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import RateLimit, create_app, error_responses, links, route_facts
from investment_system.schemas.auth import TokenPair, TokenRefresh
from investment_system.services.accounts.login_sessions import rotate

app = create_app()


@app.post(
    "/v1/auth/refresh",
    operation_id="refreshTokens",
    summary="Rotate a refresh token",
    description="The presented refresh token is revoked; the new pair belongs to the same session. Presenting "
    "it again within REFRESH_REUSE_GRACE_SECONDS (10 by default) of its rotation is taken for a retry (a lost "
    "answer, two tabs): another pair of the same session, which replaces the pair issued before it (a session "
    "has one refresh token that rotates, the last issued). Later, it ends the session: every token of it is "
    "refused (401 TOKEN_REVOKED). A session lasts at most REFRESH_FAMILY_MAX_AGE_SECONDS (30 days by default) "
    "from its login, however often it is refreshed (then 401 TOKEN_EXPIRED).",
    tags=["Auth"],
    responses={
        200: {
            "description": "A new token pair",
            "links": links(("refreshTokens",), request_body={"refresh_token": "$response.body#/refresh_token"}),
        },
        **error_responses(401, 403),
    },
    # Not stopped by maintenance: admins keep their session.
    openapi_extensions=route_facts(rate_limit=RateLimit.PER_IP, changes_data=False),
)
def post_refresh(request: TokenRefresh) -> TokenPair:
    return rotate(request.refresh_token)


handler = http_handler(app, sample=lambda world: [SampleRequest(body={"refresh_token": world.refresh_token})])
