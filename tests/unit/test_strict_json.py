"""Reading JSON from outside: only JSON, only characters, only as deep as the API needs."""

from __future__ import annotations

import json

import pytest

from shared import strict_json
from shared.errors import InvalidJsonError


def problem(text: str | bytes) -> str:
    with pytest.raises(InvalidJsonError) as caught:
        strict_json.loads(text, "payload")
    assert caught.value.details[0].field == "payload"
    return caught.value.details[0].problem


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\udc00": 1}', '["ok", ["\\udbff x"]]'])
def test_lone_surrogates_are_refused(text: str) -> None:
    assert "surrogate" in problem(text)


def test_a_surrogate_pair_and_an_escaped_backslash_are_fine() -> None:
    assert strict_json.loads('["\\ud83d\\udca1", "\\\\ud800"]') == ["\U0001f4a1", "\\ud800"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_constants_python_accepts_are_not_json(constant: str) -> None:
    assert constant in problem(f'{{"a": {constant}}}')


def test_nesting_up_to_the_bound_is_fine_and_one_more_is_refused() -> None:
    depth = strict_json.MAX_DEPTH
    assert strict_json.loads("[" * depth + "]" * depth) is not None
    assert "deep" in problem("[" * (depth + 1) + "]" * (depth + 1))
    assert "deep" in problem('{"a": ' * (depth + 1) + "1" + "}" * (depth + 1))


def test_nesting_that_would_exhaust_the_interpreter_is_refused() -> None:
    assert "deep" in problem("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("raw", [b"\xff\xfe{", b'{"a": "\xc3"}', b"{not json"])
def test_bytes_that_are_not_json_text_are_refused(raw: bytes) -> None:
    problem(raw)


def test_ordinary_json_reads_as_json() -> None:
    value = {"items": [{"title": "Lamp", "n": 2**70, "x": 1.5, "ok": True, "none": None}]}
    assert strict_json.loads(json.dumps(value)) == value
