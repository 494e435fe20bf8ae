"""Conditional requests (RFC 9110): the ETag of a version, If-None-Match on reads, If-Match on writes.

A service returns a resource with its version (`schemas.versions.Versioned`) and takes what If-Match
requires as a `Precondition`, which it checks in the conditional UPDATE making the change (412
PRECONDITION_FAILED). This module declares the headers, parses them and answers: 200 with `ETag`, or
304 with the `ETag` and no body. If-None-Match compares weakly, If-Match strongly (a `W/` tag never matches).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header

from investment_system.schemas.versions import Precondition, Versioned

ETAG_HEADER = "ETag"
# An entity-tag: optional weakness indicator, then an opaque tag in double quotes (RFC 9110, 8.8.3).
_ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')

IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description="ETags of copies you hold (a list, or `*`): when one is the current version (weak "
        "comparison), the answer is 304 Not Modified, with the ETag and no body.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the version you are changing (a list, or `*`): when none is current (strong "
        "comparison), nothing changes and the answer is 412 PRECONDITION_FAILED. Without it the change is made.",
    ),
]


def entity_tag(version: str) -> str:
    """A version as a strong ETag."""
    return f'"{version}"'


def precondition(if_match: str | None) -> Precondition | None:
    """What an If-Match header requires of the version a write changes; None without the header."""
    if if_match is None:
        return None
    if if_match.strip() == "*":
        return Precondition(versions=None)
    return Precondition(versions=frozenset(tag for weak, tag in _entity_tags(if_match) if not weak))


def versioned_response(result: Versioned[Any], if_none_match: str | None = None) -> Response[Any]:
    """200 with the resource and its ETag, or 304 with the ETag alone when If-None-Match names its version."""
    headers = {ETAG_HEADER: entity_tag(result.version)}
    if if_none_match is not None and _names(if_none_match, result.version):
        return Response(status_code=304, body=None, headers=headers)
    return Response(200, content_types.APPLICATION_JSON, result.body.model_dump(mode="json"), headers)


def _names(if_none_match: str, version: str) -> bool:
    return if_none_match.strip() == "*" or any(tag == version for _, tag in _entity_tags(if_none_match))


def _entity_tags(field: str) -> list[tuple[bool, str]]:
    """The (weak, opaque-tag) pairs of a header's comma-separated list; what does not parse is no tag."""
    return [(bool(match.group(1)), match.group(2)) for match in _ENTITY_TAG.finditer(field)]
