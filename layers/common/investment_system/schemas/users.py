"""Request and response models of the users and admin APIs."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


EMAIL_MAX = 320
PASSWORD_INPUT_MAX = 1024  # the policy's own maximum is a setting; this only bounds the work per request
FULL_NAME_MAX = 200

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


def normalize_email(value: str) -> str:
    """An email address as stored: trimmed and lower-cased; ValueError when it is not one."""
    email = value.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise ValueError("value is not a valid email address")
    return email


EmailAddress = Annotated[
    str,
    Field(max_length=EMAIL_MAX + 64, json_schema_extra={"format": "email"}, examples=["ada@example.com"]),
    AfterValidator(normalize_email),
]
Password = Annotated[str, Field(min_length=1, max_length=PASSWORD_INPUT_MAX, repr=False)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=FULL_NAME_MAX)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ProfileUpdate(_Request):
    full_name: FullName | None = Field(default=None, description="null clears the name.")


class PasswordChange(_Request):
    current_password: Password
    new_password: Password


class AdminUserUpdate(_Request):
    role: Role | None = None
    is_active: bool | None = Field(default=None, description="false deactivates: the user's tokens stop working.")

    @model_validator(mode="after")
    def _changes_something(self) -> AdminUserUpdate:
        if self.role is None and self.is_active is None:
            raise ValueError("give role or is_active")
        return self
