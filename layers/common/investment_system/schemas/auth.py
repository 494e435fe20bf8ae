"""Request and response models of the auth API."""

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from investment_system.schemas import ALWAYS_SENT, ApiModel
from investment_system.schemas.users import (
    EMAIL_MAX,
    EXAMPLE_PASSWORD,
    EmailAddress,
    FullName,
    Password,
    canonical_email,
)

# Login takes any string, in the canonical form addresses are stored in: a malformed address is
# answered like an unknown one, and one registered before today's rules still signs in.
LoginEmail = Annotated[str, Field(max_length=EMAIL_MAX), AfterValidator(canonical_email)]
RefreshTokenText = Annotated[str, Field(min_length=1, max_length=4096, repr=False)]


class _Request(ApiModel):
    model_config = ConfigDict(extra="forbid")


class UserRegistration(_Request):
    email: EmailAddress
    password: Password = Field(examples=[EXAMPLE_PASSWORD])
    full_name: FullName | None = None


class LoginCredentials(_Request):
    email: LoginEmail = Field(examples=["ada@example.com"])
    password: Password = Field(examples=[EXAMPLE_PASSWORD])


class TokenRefresh(_Request):
    refresh_token: RefreshTokenText


class TokenPair(ApiModel):
    model_config = ALWAYS_SENT

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme name, not a secret)
    expires_in: int = Field(description="Lifetime of the access token, in seconds.")
