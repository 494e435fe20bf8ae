"""GET /v1/users/me: the caller's profile."""

from investment_system.entrypoints import http_handler
from investment_system.http import Response, create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.conditional import IfNoneMatch, versioned_response
from investment_system.schemas.users import User
from investment_system.services.accounts.reads import versioned_profile

app = create_app()


@app.get(
    "/v1/users/me",
    operation_id="getMe",
    summary="Your profile",
    description="The account the access token belongs to.",
    tags=["Users"],
    security=BEARER_SECURITY,
    responses={
        200: {"description": "Your profile", "content": {"application/json": {"model": User}}},
        **error_responses(401, 403),
    },
)
def get_me(user: CurrentUser, if_none_match: IfNoneMatch = None) -> Response[User | None]:
    return versioned_response(versioned_profile(user.user_id), if_none_match)


handler = http_handler(app)
