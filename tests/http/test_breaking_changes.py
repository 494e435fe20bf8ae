"""A breaking change to the OpenAPI document is caught before it reaches a client.

openapi-diff (pinned in devtools/package.json, as Redocly is) compares the served document with the last
released one, docs/openapi/released.json. A difference it calls breaking (an operation or a response
field gone, a request narrowed) must come with a version that declares it: a new major version, or
before 1.0 a new minor one.
"""

from __future__ import annotations

import copy
import json

import pytest

from invest_dev.openapi import BUNDLED, RELEASED, breaking_changes, declares_a_break

pytestmark = pytest.mark.slow

CURRENT = json.loads(BUNDLED.read_text())


def test_the_document_breaks_nothing_its_version_does_not_declare():
    # Given the last released document and the one the API serves now
    released = json.loads(RELEASED.read_text())
    versions = released["info"]["version"], CURRENT["info"]["version"]
    # When openapi-diff compares them
    breaking = breaking_changes(released, CURRENT)
    # Then every breaking difference comes with a version that declares a break
    assert not breaking or declares_a_break(*versions), (
        f"breaking changes from {versions[0]} to {versions[1]} without a new version: {breaking}"
    )


def _changed(change: str) -> dict:
    document = copy.deepcopy(CURRENT)
    schemas = document["components"]["schemas"]
    if change == "an operation removed":
        del document["paths"]["/v1/signals/{id}/history"]
    elif change == "a request field required":
        schemas["SignalCreate"]["required"].append("strategy")
    else:  # a response field removed
        del schemas["Plan"]["properties"]["features"]
        schemas["Plan"]["required"].remove("features")
    return document


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ("an operation removed", "path.remove at paths./v1/signals/{id}/history"),
        ("a request field required", "request.body.scope.remove at paths./v1/signals.post.requestBody"),
        ("a response field removed", "response.body.scope.add at paths./v1/billing/plans.get.responses.200"),
    ],
)
def test_a_breaking_change_is_found(change, found):
    # When the document changes in a way that breaks a client, under the same version
    breaking = breaking_changes(CURRENT, _changed(change))
    # Then openapi-diff calls it breaking, and the version does not declare it
    assert any(difference.startswith(found) for difference in breaking), breaking
    assert not declares_a_break(CURRENT["info"]["version"], CURRENT["info"]["version"])


def test_a_compatible_change_is_not_breaking():
    # Given a new optional field in a request and a new operation
    document = copy.deepcopy(CURRENT)
    document["components"]["schemas"]["SignalCreate"]["properties"]["source"] = {"type": "string"}
    document["paths"]["/v1/signals/{id}/notes"] = document["paths"]["/v1/signals/{id}/history"]
    # Then nothing breaks
    assert breaking_changes(CURRENT, document) == []


@pytest.mark.parametrize(
    ("released", "current", "declared"),
    [("0.1.0", "0.2.0", True), ("0.2.0", "0.2.1", False), ("1.4.0", "2.0.0", True), ("1.4.0", "1.5.0", False)],
)
def test_a_break_is_declared_by_a_new_major_version_or_before_1_0_a_new_minor_one(released, current, declared):
    assert declares_a_break(released, current) is declared
