"""POST /v1/auth/register: create an account."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import RateLimit, create_app, error_responses, links, route_facts
from investment_system.schemas.auth import UserRegistration
from investment_system.schemas.users import User
from investment_system.services.accounts.credentials import register

app = create_app()


@app.post(
    "/v1/auth/register",
    operation_id="register",
    status_code=201,
    summary="Create an account",
    description="The email is trimmed and lower-cased; the password must meet the password policy.",
    tags=["Auth"],
    responses={
        201: {
            "description": "The new account",
            "links": {
                **links(("updateUser",), user_id="$response.body#/id"),
                **links(
                    ("login",), request_body={"email": "$request.body#/email", "password": "$request.body#/password"}
                ),
            },
        },
        **error_responses(409),
    },
    openapi_extensions=route_facts(rate_limit=RateLimit.PER_IP),
)
def post_register(registration: UserRegistration) -> User:
    return register(registration)


handler = http_handler(
    app, sample=lambda world: [SampleRequest(body={"email": "newcomer@example.com", "password": world.password})]
)
