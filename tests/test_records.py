"""The mention record: one JSON format for every source, the store, replay and export."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import RecordError
from monitor.records.mention import Mention, canonical_url, format_time, x_post_id

RECORD = {
    "id": "x:1460323737035677698", "source": "x", "kind": "reply", "parent_id": "x:1460323737035677000",
    "url": "https://x.com/someone/status/1460323737035677698",
    "author": {"id": "2244994945", "handle": "someone", "name": "Some One", "followers": 1200,
               "description": "runner"},
    "text": "@acme my router died after 2 days", "links": ["https://blog.example.org/post"],
    "created_at": "2026-11-02T10:00:00Z", "observed_at": "2026-11-02T10:00:30Z",
    "metrics": {"reposts": 1, "replies": 0, "likes": 3, "quotes": 0},
}


def test_a_record_round_trips_unchanged() -> None:
    assert Mention.from_json(RECORD).to_json() == RECORD


def test_unknown_keys_are_kept_not_dropped() -> None:
    record = {**RECORD, "lang": "en", "author": {**RECORD["author"], "verified": True}}
    assert Mention.from_json(record).to_json() == record


def test_observed_at_defaults_to_created_at() -> None:
    record = {k: v for k, v in RECORD.items() if k != "observed_at"}
    assert Mention.from_json(record).observed_at == Mention.from_json(RECORD).created_at


@pytest.mark.parametrize("change, field", [
    ({"id": "1460323737035677698"}, "source-prefixed"),
    ({"kind": "like"}, "kind"),
    ({"created_at": "yesterday"}, "created_at"),
    ({"author": "someone"}, "author"),
    ({"links": "https://a.example"}, "links"),
])
def test_a_malformed_record_is_refused_naming_the_field(change: dict, field: str) -> None:
    with pytest.raises(RecordError, match=field):
        Mention.from_json({**RECORD, **change})


def test_times_are_written_in_utc_with_z() -> None:
    m = Mention.from_json({**RECORD, "created_at": "2026-11-02T11:00:00+01:00"})
    assert format_time(m.created_at) == "2026-11-02T10:00:00Z"


@pytest.mark.parametrize("a, b", [
    ("https://Blog.Example.org/2026/11/post/", "https://blog.example.org/2026/11/post"),
    ("HTTPS://blog.example.org/post?utm_source=x&utm_medium=social#comments", "https://blog.example.org/post"),
    ("https://blog.example.org/post?id=3&fbclid=abc", "https://blog.example.org/post?id=3"),
    ("http://blog.example.org:80/post", "https://blog.example.org/post"),
])
def test_canonical_urls_ignore_case_tracking_fragment_and_trailing_slash(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


def test_canonical_urls_keep_meaningful_query_parameters() -> None:
    assert canonical_url("https://a.example/p?id=1") != canonical_url("https://a.example/p?id=2")


texts = st.text(max_size=200)
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(UTC)).map(format_time)
records = st.fixed_dictionaries({
    "id": st.from_regex(r"(x|rss|comments):[0-9a-z]{1,20}", fullmatch=True),
    "source": st.sampled_from(["x", "rss", "comments"]),
    "kind": st.sampled_from(["post", "reply", "repost", "quote", "comment"]),
    "parent_id": st.none() | st.from_regex(r"x:[0-9]{1,12}", fullmatch=True),
    "url": st.none() | st.just("https://x.com/a/status/1"),
    "author": st.fixed_dictionaries({"id": st.from_regex(r"[0-9]{1,9}", fullmatch=True),
                                     "handle": st.from_regex(r"[a-z_]{1,15}", fullmatch=True),
                                     "followers": st.integers(0, 10**8)}),
    "text": texts,
    "links": st.lists(st.just("https://blog.example.org/p"), max_size=2),
    "created_at": moments,
    "observed_at": moments,
}, optional={"title": texts, "extra_field": st.integers() | st.text(max_size=10)})


@given(records)
def test_any_valid_record_survives_a_json_round_trip(record: dict) -> None:
    once = Mention.from_json(json.loads(json.dumps(record))).to_json()
    assert Mention.from_json(once).to_json() == once
    assert once["text"] == record["text"] and once["id"] == record["id"]
    assert once.get("extra_field") == record.get("extra_field")


def test_a_record_read_from_text_is_written_back_as_that_very_text() -> None:
    line = json.dumps({**RECORD, "lang": "en"}, indent=None)
    m = Mention.from_text(line)
    assert m.json_text() == line
    assert m == Mention.from_json(json.loads(line))  # the text it came from is not part of its identity


def test_a_record_built_in_code_is_encoded_afresh() -> None:
    m = Mention.from_json(RECORD)
    assert m.raw is None and json.loads(m.json_text()) == RECORD


def test_a_bad_line_raises_a_json_error_or_names_the_field() -> None:
    with pytest.raises(json.JSONDecodeError):
        Mention.from_text('{"id": "x:1",')
    with pytest.raises(RecordError, match="kind"):
        Mention.from_text(json.dumps({**RECORD, "kind": "retweet"}))


@pytest.mark.parametrize(("url", "post"), [
    ("https://x.com/acme/status/1234", "x:1234"),
    ("https://twitter.com/SomeOne_1/status/99", "x:99"),
    ("https://mobile.twitter.com/a/status/7", "x:7"),
    ("https://x.com/i/web/status/42", "x:42"),
    ("https://x.com/acme/status/1234/photo/1", None),   # a page of its own, not the post's address
    ("https://x.com/acme", None),
    ("https://x.com/acme/status/abc", None),
    ("https://blog.example.org/acme/status/1", None),
    ("https://nitter.net/acme/status/1", None),
])
def test_an_x_posts_address_names_its_id_under_any_account(url: str, post: str | None) -> None:
    assert x_post_id(canonical_url(url)) == post
