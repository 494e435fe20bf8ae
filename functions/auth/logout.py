"""POST /v1/auth/logout: end the caller's session."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import Response, create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.auth import TokenRefresh
from investment_system.services.accounts.revocation import logout

app = create_app()


@app.post(
    "/v1/auth/logout",
    operation_id="logout",
    status_code=204,
    summary="Log out",
    description=(
        "Ends the session of the access token used for the call and the session of the given refresh token "
        "(the same one, for a client that keeps its pair together): every access and refresh token of those "
        "sessions is refused from then on (401 TOKEN_REVOKED). A refresh token that is malformed, expired or "
        "unknown is not live, and ends nothing more (204 all the same); another user's is 403."
    ),
    tags=["Auth"],
    security=BEARER_SECURITY,
    responses={204: {"description": "Logged out", "content": {}}, **error_responses(401, 403)},
)
def post_logout(request: TokenRefresh, user: CurrentUser) -> Response[None]:
    logout(user.user_id, user.session_id, request.refresh_token)
    return Response(204)


handler = http_handler(
    app,
    sample=lambda world: [SampleRequest(body={"refresh_token": world.refresh_token})],
)
