"""POST /v1/auth/refresh: rotate a refresh token into a new token pair."""

from investment_system.http import create_app, error_responses, lambda_handler
from investment_system.schemas.auth import RefreshRequest, TokenPair
from investment_system.services.sessions import rotate

app = create_app()


@app.post(
    "/v1/auth/refresh",
    operation_id="refreshTokens",
    summary="Rotate a refresh token",
    description="The presented refresh token is revoked. Presenting a revoked one revokes its whole family "
    "(401 TOKEN_REVOKED).",
    tags=["Auth"],
    responses={200: {"description": "A new token pair"}, **error_responses(401, 403)},
)
def post_refresh(request: RefreshRequest) -> TokenPair:
    return rotate(request.refresh_token)


handler = lambda_handler(app)
