"""Authentication and roles, declared per route as Powertools dependencies.

    @app.get("/v1/users/me")
    def get_me(user: CurrentUser) -> UserOut: ...

    @app.patch("/v1/admin/users/<user_id>")
    def patch_user(user_id: str, admin: AdminUser) -> UserOut: ...

The same code runs under API Gateway and the local gateway: the bearer token is read from the
event's Authorization header and verified here (no API Gateway authorizer to emulate).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.depends import Depends

from investment_system.errors import AuthenticationError, ErrorCode, PermissionDenied

BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def bearer_token(request: Request) -> str:
    header = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(ErrorCode.AUTHENTICATION_REQUIRED)
    return token.strip()


def authenticated(request: Request) -> Principal:
    """The caller, from a valid access token; 401 otherwise."""
    from investment_system.services.tokens import verify_access_token

    claims = verify_access_token(bearer_token(request))
    return Principal(user_id=uuid.UUID(claims["sub"]), role=str(claims["role"]))


def admin(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    """The caller, when an administrator; 403 PERMISSION_DENIED otherwise."""
    if not principal.is_admin:
        raise PermissionDenied(ErrorCode.PERMISSION_DENIED)
    return principal


CurrentUser = Annotated[Principal, Depends(authenticated)]
AdminUser = Annotated[Principal, Depends(admin)]
