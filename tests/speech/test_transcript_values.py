"""The transcribe value: text, optionally with timed segments that agree with it."""

from __future__ import annotations

from typing import Any

import pytest

from hitloop.errors import InputError
from hitloop.types import validate_value


def test_text_is_normalized() -> None:
    assert validate_value("transcribe", [], {"text": " a  b\n c "}) == {"text": "a b c"}


def test_segments() -> None:
    value = {
        "text": "hello there friend",
        "segments": [
            {"start": 0, "end": 1.5, "text": "hello there"},
            {"start": 2.0, "end": 2.5, "text": ""},
            {"start": 3.0, "end": 4.0, "text": "friend"},
        ],
    }
    out = validate_value("transcribe", [], value)
    assert out["segments"][0] == {"start": 0.0, "end": 1.5, "text": "hello there"}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"label": "x"}, "value"),
        ({"text": 3}, "value.text"),
        ({"text": "x", "extra": 1}, "value"),
        ({"text": "x", "segments": "no"}, "value.segments"),
        ({"text": "x", "segments": [{"start": 0, "end": 1}]}, "value.segments[0]"),
        ({"text": "x", "segments": [{"start": 1, "end": 0.5, "text": "x"}]}, "value.segments[0]"),
        ({"text": "x", "segments": [{"start": True, "end": 1, "text": "x"}]}, "value.segments[0]"),
        (
            {
                "text": "a b",
                "segments": [{"start": 0, "end": 2, "text": "a"}, {"start": 1, "end": 3, "text": "b"}],
            },
            "value.segments[1]",
        ),
        ({"text": "x", "segments": [{"start": 0, "end": 1, "text": 5}]}, "value.segments[0].text"),
        ({"text": "a b", "segments": [{"start": 0, "end": 1, "text": "a"}]}, "value.text"),
        ({"text": "x" * 200_001}, "value.text"),
    ],
    ids=[
        "not-a-transcript",
        "text-not-string",
        "extra-key",
        "segments-not-list",
        "segment-missing-text",
        "end-before-start",
        "bool-time",
        "overlap",
        "segment-text-not-string",
        "text-disagrees",
        "too-long",
    ],
)
def test_bad_values_name_the_field(value: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_value("transcribe", [], value)
    assert caught.value.field == field
