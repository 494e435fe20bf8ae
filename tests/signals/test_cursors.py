"""Listing cursors as properties: they round-trip exactly, and no edit or forgery yields another position."""

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from investment_system.errors import AppError, ErrorCode
from investment_system.repositories.pagination import decode_cursor, encode_cursor

instants = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
ids = st.uuids()
scopes = st.uuids().map(lambda user: f"signals:{user}")


def _outcome(cursor: str, scope: str) -> tuple[datetime, uuid.UUID] | ErrorCode:
    """The position a cursor names, or the code of the error decoding it raised."""
    try:
        return decode_cursor(cursor, scope)
    except AppError as error:
        return error.code


@given(instants, ids, scopes)
def test_a_cursor_gives_back_exactly_the_position_it_was_made_from(created_at, row_id, scope):
    assert decode_cursor(encode_cursor(created_at, row_id, scope), scope) == (created_at, row_id)


@given(instants, ids, scopes, st.data())
def test_an_edited_cursor_is_refused_or_unchanged_never_another_position(created_at, row_id, scope, data):
    # Given a cursor with one character replaced
    cursor = encode_cursor(created_at, row_id, scope)
    at = data.draw(st.integers(min_value=0, max_value=len(cursor) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."))
    edited = cursor[:at] + replacement + cursor[at + 1 :]
    # Then it is 400 INVALID_CURSOR, unless the edit did not change the bytes it encodes
    assert _outcome(edited, scope) in (ErrorCode.INVALID_CURSOR, (created_at, row_id))


@given(instants, ids, scopes, scopes)
def test_another_users_cursor_is_refused(created_at, row_id, mine, theirs):
    if mine == theirs:
        return
    with pytest.raises(AppError) as caught:
        decode_cursor(encode_cursor(created_at, row_id, theirs), mine)
    assert caught.value.code is ErrorCode.INVALID_CURSOR


@given(st.text(max_size=200))
def test_text_that_is_no_cursor_is_invalid_cursor_never_a_crash(text):
    assert _outcome(text, f"signals:{uuid.UUID(int=0)}") is ErrorCode.INVALID_CURSOR
