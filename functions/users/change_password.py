"""POST /v1/users/me/password: change the caller's password."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import Response, create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.schemas.users import PasswordChange
from investment_system.services.accounts.credentials import change_password

app = create_app()


@app.post(
    "/v1/users/me/password",
    operation_id="changePassword",
    status_code=204,
    summary="Change your password",
    description="Ends every session: each access and refresh token issued to you before is refused from then "
    "on (401 TOKEN_REVOKED); sign in again with the new password. Wrong current passwords count towards the "
    "lockout.",
    tags=["Users"],
    security=BEARER_SECURITY,
    responses={204: {"description": "Password changed", "content": {}}, **error_responses(401, 403, 423)},
)
def post_password(change: PasswordChange, user: CurrentUser) -> Response[None]:
    change_password(user.user_id, change)
    return Response(204)


handler = http_handler(
    app,
    sample=lambda world: [
        SampleRequest(body={"current_password": world.password, "new_password": "Copper-Meadow-Signal-93"})
    ],
)
