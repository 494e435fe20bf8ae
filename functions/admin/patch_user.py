"""PATCH /v1/admin/users/{user_id}: change a user's role or activation, for administrators."""

import uuid

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import create_app, error_responses
from investment_system.http.auth import BEARER_SECURITY, AdminUser
from investment_system.schemas.users import User, UserAdminUpdate
from investment_system.services.accounts.admin import update_user_as_admin

app = create_app()


@app.patch(
    "/v1/admin/users/<user_id>",
    operation_id="updateUser",
    summary="Change a user's role or activation",
    description="Deactivating a user or changing their role ends every session of theirs: each token issued "
    "to them before is refused from then on (403 ACCOUNT_DISABLED while deactivated, else 401 TOKEN_REVOKED). "
    "Administrators cannot change themselves here (409 CANNOT_MODIFY_SELF).",
    tags=["Admin"],
    security=BEARER_SECURITY,
    responses={200: {"description": "The user"}, **error_responses(401, 403, 404, 409)},
)
def patch_user(user_id: uuid.UUID, update: UserAdminUpdate, admin: AdminUser) -> User:
    return update_user_as_admin(admin.user_id, user_id, update)


handler = http_handler(app, sample=lambda world: [SampleRequest(body={"is_active": False})])
