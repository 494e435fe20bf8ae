"""PATCH /v1/users/me: change the caller's profile."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, CurrentUser
from investment_system.http.conditional import IfMatch, precondition
from investment_system.schemas.users import User, UserUpdate
from investment_system.services.accounts.profiles import update_profile

app = create_app()


@app.patch(
    "/v1/users/me",
    operation_id="updateMe",
    summary="Change your profile",
    description="Only full_name; any other field (role, email...) is refused with 422.",
    tags=["Users"],
    security=BEARER_SECURITY,
    responses={200: {"description": "Your profile"}, **error_responses(401, 403)},
)
def patch_me(update: UserUpdate, user: CurrentUser, if_match: IfMatch = None) -> User:
    return update_profile(user.user_id, update, precondition(if_match))


handler = http_handler(app, sample=lambda _: [SampleRequest(body={"full_name": "Sample Investor Jr."})])
