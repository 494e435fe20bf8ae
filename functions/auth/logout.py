"""POST /v1/auth/logout: revoke the family of one of the caller's refresh tokens."""

from aws_lambda_powertools.event_handler import Response

from investment_system.http import create_app, error_responses, lambda_handler
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.auth import RefreshRequest
from investment_system.services.sessions import logout

app = create_app()


@app.post(
    "/v1/auth/logout",
    operation_id="logout",
    status_code=204,
    summary="Log out",
    description="Revokes the refresh token's whole family.",
    tags=["Auth"],
    security=BEARER_SECURITY,
    responses={204: {"description": "Logged out", "content": {}}, **error_responses(401, 403)},
)
def post_logout(request: RefreshRequest, user: CurrentUser) -> Response[None]:
    logout(user.user_id, request.refresh_token)
    return Response(204)


handler = lambda_handler(app)
