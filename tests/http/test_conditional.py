"""Conditional request headers (http/conditional.py), as RFC 9110 compares them: If-None-Match weakly,
If-Match strongly, either as a list or `*`."""

import pytest
from pydantic import BaseModel

from investment_system.errors import AppError, ErrorCode
from investment_system.http.conditional import precondition, versioned_response
from investment_system.schemas.versions import Versioned


class _Thing(BaseModel):
    name: str


THING = Versioned(_Thing(name="x"), "7")


@pytest.mark.parametrize("header", ['"7"', 'W/"7"', '"1", "7"', '"1",W/"7"', "*", ' "7" '])
def test_if_none_match_naming_the_current_version_is_304_with_the_etag_and_no_body(header):
    response = versioned_response(THING, header)
    assert (response.status_code, response.body, response.headers["ETag"]) == (304, None, '"7"')


@pytest.mark.parametrize("header", [None, '"8"', 'W/"70"', '"1", "2"', "7", "", "garbage"])
def test_if_none_match_naming_another_version_or_nothing_gets_the_resource(header):
    response = versioned_response(THING, header)
    assert (response.status_code, response.body, response.headers["ETag"]) == (200, {"name": "x"}, '"7"')


@pytest.mark.parametrize("header", ['"7"', '"1", "7"', "*", " * "])
def test_if_match_naming_the_current_version_strongly_is_met(header):
    condition = precondition(header)
    assert condition is not None
    condition.require("7")


@pytest.mark.parametrize("header", ['"8"', 'W/"7"', "7", "", '"1", W/"7"'])
def test_if_match_naming_no_current_version_strongly_is_412(header):
    condition = precondition(header)
    assert condition is not None
    with pytest.raises(AppError) as refused:
        condition.require("7")
    assert refused.value.code is ErrorCode.PRECONDITION_FAILED
    assert refused.value.status == 412


def test_no_if_match_is_no_precondition():
    assert precondition(None) is None
