"""GET /v1/admin/users: a page of users, for administrators."""

from typing import Annotated

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import Query, create_app, error_responses, links
from investment_system.http.auth import BEARER_SECURITY, AdminUser
from investment_system.schemas import DEFAULT_LIMIT, MAX_LIMIT
from investment_system.schemas.users import Role, UserPage
from investment_system.services.accounts.reads import list_users

app = create_app()


@app.get(
    "/v1/admin/users",
    operation_id="listUsers",
    summary="List users",
    description="Newest first, optionally filtered by role and activation.",
    tags=["Admin"],
    security=BEARER_SECURITY,
    responses={
        200: {"description": "A page of users", "links": links(("updateUser",), user_id="$response.body#/items/0/id")},
        **error_responses(401, 403),
    },
)
def get_users(
    admin: AdminUser,
    role: Annotated[Role | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
) -> UserPage:
    return list_users(role=role, is_active=is_active, limit=limit, cursor=cursor)


handler = http_handler(app, sample=lambda _: [SampleRequest(), SampleRequest(query={"role": "user"})])
