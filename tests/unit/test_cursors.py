"""List cursors: opaque to clients, exact on the way back, and refused as a 400 when they are not
one of ours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from shared.adapters.firestore.base import INDEX, TEXT, TIME, decode_cursor, encode_cursor
from shared.errors import InvalidArgumentError


@pytest.mark.parametrize("length", range(12))
def test_a_cursor_comes_back_exactly_whatever_its_length(length: int) -> None:
    """Every length of encoding, so every amount of base64 padding (and any last character)."""
    cases = [
        ([length, "x" * (length + 1)], (INDEX, TEXT)),
        (["2026-11-29T12:00:00+00:00", "X" * (length + 1)], (TEXT, TEXT)),
        ([length, length * 7], (INDEX, INDEX)),
    ]
    for values, kinds in cases:
        cursor = encode_cursor(values)
        assert "=" not in cursor and decode_cursor(cursor, *kinds) == values
    moment = "2026-11-29T12:00:00+00:00"
    assert decode_cursor(encode_cursor([moment, "x"]), TIME, TEXT) == [datetime.fromisoformat(moment), "x"]


@pytest.mark.parametrize("cursor", ["NQ", "eyJhIjogMX0", "WzFd", "%%%", ""])
def test_anything_else_is_refused_as_not_a_cursor_of_this_list(cursor: str) -> None:
    """5, {"a": 1}, [1], not base64, empty, mis-padded."""
    with pytest.raises(InvalidArgumentError) as refused:
        decode_cursor(cursor, INDEX, TEXT)
    problems: list[Any] = [(d.field, d.problem) for d in refused.value.details]
    assert (refused.value.message, problems) == ("invalid cursor", [("cursor", "not a cursor of this list")])


@pytest.mark.parametrize(
    ("values", "kinds"),
    [
        ({"2026-11-29T12:00:00+00:00": 0, "x": 1}, (TIME, TEXT)),  # keys that would pass as the values
        ("ab", (TEXT, TEXT)),  # as many characters as values
    ],
)
def test_only_a_list_is_a_cursor_even_one_of_the_right_length(values: Any, kinds: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidArgumentError):
        decode_cursor(encode_cursor(values), *kinds)


def test_a_cursor_time_is_read_up_to_40_characters_and_refused_beyond() -> None:
    """Longer than any time this API writes (32), short enough that parsing costs nothing."""
    longest = "2026-11-29T12:00:00." + "1" * 14 + "+00:00"
    assert len(longest) == 40
    assert decode_cursor(encode_cursor([longest]), TIME) == [datetime.fromisoformat(longest)]
    with pytest.raises(InvalidArgumentError):
        decode_cursor(encode_cursor([longest.replace(".", ".1")]), TIME)


@pytest.mark.parametrize(
    ("kind", "read", "refused"),
    [
        (TEXT, ["x", "é" * 750, "x" * 1500], ["", "x" * 1501, "é" * 750 + "x", 5, None]),  # up to 1500 bytes
        (INDEX, [-1, 0, 2**31 - 1], [-2, 2**31, 1.5, "5", True]),  # a position: -1 (before the first) on
    ],
)
def test_a_cursor_value_is_read_within_its_bounds_and_refused_beyond(
    kind: Any, read: list[Any], refused: list[Any]
) -> None:
    for value in read:
        assert decode_cursor(encode_cursor([value]), kind) == [value]
    for value in refused:
        with pytest.raises(InvalidArgumentError):
            decode_cursor(encode_cursor([value]), kind)
