"""What a conditional request compares: a resource read with its version, and the versions a write
requires (If-Match). `http` makes the ETag of a version and parses the headers; services compare."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from investment_system.errors import Conflict, ErrorCode


@dataclass(frozen=True, slots=True)
class Versioned[ModelT: BaseModel]:
    """A resource as read, and its version: text that changes whenever the resource does."""

    body: ModelT
    version: str


@dataclass(frozen=True, slots=True)
class Precondition:
    """The versions a write may change (If-Match): `versions` None is any current one (`*`)."""

    versions: frozenset[str] | None

    def require(self, current: str) -> None:
        """412 PRECONDITION_FAILED unless `current` is one of the versions required."""
        if self.versions is not None and current not in self.versions:
            raise Conflict(ErrorCode.PRECONDITION_FAILED)
