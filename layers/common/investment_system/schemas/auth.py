"""Request and response models of the auth API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from investment_system.schemas import ALWAYS_SENT
from investment_system.schemas.users import EMAIL_MAX, EmailAddress, FullName, Password

# Login takes any string: a malformed address is answered like an unknown one.
LoginEmail = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=EMAIL_MAX)]
RefreshTokenText = Annotated[str, Field(min_length=1, max_length=4096, repr=False)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Registration(_Request):
    email: EmailAddress
    password: Password
    full_name: FullName | None = None


class Credentials(_Request):
    email: LoginEmail
    password: Password


class RefreshRequest(_Request):
    refresh_token: RefreshTokenText


class TokenPair(BaseModel):
    model_config = ALWAYS_SENT

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme name, not a secret)
    expires_in: int = Field(description="Lifetime of the access token, in seconds.")
