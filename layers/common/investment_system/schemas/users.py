"""Request and response models of the users and admin APIs."""

import unicodedata
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from investment_system.schemas import ApiModel, TrimmedText


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


EMAIL_MAX = 320
PASSWORD_INPUT_MAX = 1024  # the policy's own maximum is a setting; this only bounds the work per request
FULL_NAME_MAX = 200
# A bcrypt hash as the previous system stored it: $2a$, $2b$ or $2y$, the cost, then in bcrypt's base64
# (./A-Za-z0-9) a salt of 16 bytes in 22 characters and a digest of 23 bytes in 31. The last character of
# each holds the final 2 or 4 bits of its bytes, so only some characters can end them: bcrypt refuses
# any other salt ("Invalid salt"), and no password matches any other digest. Costs above 16 (seconds a
# check) would make each login a denial of service, and are not imported.
BCRYPT_HASH = r"\$2[aby]\$(0[4-9]|1[0-6])\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{30}[.CGKOSWaeimquy26]"


def canonical_email(value: str) -> str:
    """An address as stored and looked up: trimmed, Unicode-normalised (NFC) and lower-cased."""
    return unicodedata.normalize("NFC", value.strip()).lower()


def normalize_email(value: str) -> str:
    """An address fit to register, in its canonical form; ValueError saying why when it is not one.

    email-validator (the validator behind pydantic's EmailStr) judges the form: one @, a dot-atom
    local part (no quoting) of at most 64 characters (`strict`, RFC 5321's limit), a domain of valid
    labels with a dot and not a special-use name (no `localhost`, `.test`, IP literals), and no
    control, format (zero-width, bidirectional) or other unsafe characters. Beyond that an address
    must be ASCII: letters of other scripts can pass for Latin ones (a Cyrillic U+0430 for the a of
    admin@example.com), so that an account could look like another's.
    An internationalised domain can be given in its ASCII form (`xn--…`).
    """
    from email_validator import EmailNotValidError, validate_email  # imported only where addresses are registered

    email = canonical_email(value)
    try:
        validate_email(email, check_deliverability=False, allow_smtputf8=False, strict=True)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    if not email.isascii():
        raise ValueError("The domain must be written in ASCII (an internationalised one in its xn-- form).")
    return email


# The special-use domains email-validator refuses (its SPECIAL_USE_DOMAIN_NAMES), in any letter case, for
# the document's pattern: the module is imported only where addresses are registered.
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")
_ANY_CASE = "|".join("".join(f"[{c}{c.upper()}]" for c in name) for name in SPECIAL_USE_DOMAINS)

EmailAddress = Annotated[
    str,
    Field(
        max_length=EMAIL_MAX + 64,
        json_schema_extra={"format": "email", "pattern": rf"^.*@(?!(.*\.)?({_ANY_CASE})$)"},
        examples=["ada@example.com"],
    ),
    AfterValidator(normalize_email),
]
Password = Annotated[str, Field(min_length=1, max_length=PASSWORD_INPUT_MAX, repr=False)]
# The document's example passwords: ones the password policy accepts.
EXAMPLE_PASSWORD = "Plum-Orchard-Ledger-42"  # noqa: S105 (an example, no account's)
EXAMPLE_NEW_PASSWORD = "Copper-Meadow-Signal-93"  # noqa: S105 (an example, no account's)
FullName = Annotated[TrimmedText, StringConstraints(min_length=1, max_length=FULL_NAME_MAX)]


class _Request(ApiModel):
    model_config = ConfigDict(extra="forbid")


class ImportedUser(_Request):
    """One account of the previous system, as `invest import-users` reads it: its bcrypt hash is kept."""

    email: EmailAddress
    password_hash: Annotated[str, StringConstraints(pattern=f"^{BCRYPT_HASH}$"), Field(repr=False)]
    full_name: FullName | None = None


class User(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserPage(ApiModel):
    items: list[User]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class UserUpdate(_Request):
    full_name: FullName | None = Field(default=None, description="null clears the name.")


class PasswordChange(_Request):
    current_password: Password = Field(examples=[EXAMPLE_PASSWORD])
    new_password: Password = Field(examples=[EXAMPLE_NEW_PASSWORD])


def _at_least_one_field_without_null(schema: dict[str, Any]) -> None:
    schema["minProperties"] = 1
    for field in schema["properties"].values():
        field.pop("default", None)


class UserAdminUpdate(_Request):
    """At least one of the fields; a field left out is unchanged (null is no value for either)."""

    model_config = ConfigDict(json_schema_extra=_at_least_one_field_without_null)

    role: Role | SkipJsonSchema[None] = None
    # Strict: a JSON 0 or 1 is no boolean, though pydantic would read it as one.
    is_active: StrictBool | SkipJsonSchema[None] = Field(
        default=None, description="false deactivates: the user's tokens stop working."
    )

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give role or is_active")
        if None in (getattr(self, name) for name in self.model_fields_set):
            raise ValueError("role and is_active cannot be null: leave out what does not change")
        return self
