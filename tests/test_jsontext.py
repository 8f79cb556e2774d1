"""JSON text on the hot path: orjson's speed, the standard library's verdicts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.records import jsontext

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_what_it_writes_reads_back_as_the_standard_library_reads_it(value: object) -> None:
    text = jsontext.dumps(value)
    assert jsontext.loads(text) == json.loads(text) == json.loads(json.dumps(value))


@pytest.mark.parametrize("text", ['{"followers": NaN}', '"\\ud800 lone surrogate"', "[Infinity]"])
def test_what_orjson_refuses_and_json_takes_is_taken(text: str) -> None:
    assert repr(jsontext.loads(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["{", "", "not json", '{"a": 1} trailing'])
def test_a_bad_text_raises_the_standard_librarys_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as got:
        jsontext.loads(text)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    assert str(got.value) == str(expected.value)


def test_what_orjson_would_write_otherwise_is_written_as_the_standard_library_does() -> None:
    assert json.loads(jsontext.dumps({1: "int key"})) == {"1": "int key"}
    assert jsontext.loads(jsontext.dumps({"t": "\ud800"})) == {"t": "\ud800"}
    assert jsontext.dumps([float("inf"), float("nan")]) == "[Infinity, NaN]"  # not orjson's [null,null]


def test_non_ascii_is_written_as_is() -> None:
    assert jsontext.dumps({"text": "café ☕"}) == '{"text": "café ☕"}'
