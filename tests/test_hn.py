"""Hacker News through Algolia's search_by_date: a story naming a term and its comment thread are one
cascade that alerts; hits at the boundary second are neither lost nor doubled; comments elsewhere in a
thread that is no one's are not passed on; the hourly request limit is kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.hn import HNSearch
from monitor.config.settings import Config, load_config
from monitor.sources import open_network_lines
from monitor.sources.hn import hit_mention
from monitor.sources.http import HttpFetcher
from monitor.store.database import Store
from tests.conftest import SourceRig, local_settings, write_config


@pytest.fixture
def hn() -> Iterator[HNSearch]:
    with HNSearch() as server:
        yield server


def _config(tmp_path: Path, hn: HNSearch, **over: Any) -> Config:
    wl = {"name": "acme", "terms": ["acme"], "alert": {"spread_threshold": 5, "spike": False, "cooldown": "0s"}}
    return load_config(write_config(tmp_path, [wl], hn={"enabled": True, "api_url": hn.api_url, **over},
                                    detection={"min_reactions": 3}))


def Rig(config: Config) -> SourceRig:
    return SourceRig(config, "hn:")


def test_an_hn_story_and_its_comment_thread_alert_as_one_cascade(tmp_path: Path, hn: HNSearch) -> None:
    rig = Rig(_config(tmp_path, hn))
    story = hn.story("pg", "Ask HN: Acme charged me again after I cancelled?",
                     text="Acme cancelled my order twice and support never answers. Charged again. Never again.")
    rig.poll()
    first = hn.comment("a", "Same thing happened to me last week", parent=story)
    hn.comment("b", "Did you try calling them?", parent=first)  # a reply to a reply
    for i in range(3):
        hn.comment(f"c{i}", f"They charged me twice too ({i})", parent=story)
    rig.poll()
    roots = rig.roots()
    assert len(roots) == 6 and set(roots.values()) == {f"hn:{story}"}
    parent = dict(rig.store.conn.execute("SELECT id, json_extract(record, '$.parent_id') FROM mentions").fetchall())
    assert parent[f"hn:{int(first) + 1}"] == f"hn:{first}"  # the thread's shape is kept
    decisions = [d for d in rig.pipeline.detect() if d.level is not None]
    assert [(d.name, d.root_id) for d in decisions] == [("first_alert", f"hn:{story}")]
    asks = [r.query for r in hn.requests]
    assert asks[0]["tags"] == ["(story,comment)"] and asks[0]["query"] == ["acme"]
    assert asks[0]["numericFilters"][0].startswith("created_at_i>=")
    assert any(q.get("tags") == [f"comment,story_{story}"] for q in asks)
    assert rig.poll().mentions == []


def test_hits_in_the_boundary_second_are_neither_lost_nor_doubled(tmp_path: Path, hn: HNSearch) -> None:
    rig = Rig(_config(tmp_path, hn))
    second = int(time.time())
    hn.story("a", "acme outage", created=second)
    rig.poll()
    hn.story("b", "acme outage again", created=second)  # indexed later, stamped the same second
    again = rig.poll()
    assert [m.title for m in again.mentions] == ["acme outage again"]
    ids = [r[0] for r in rig.store.conn.execute("SELECT id FROM mentions")]
    assert len(ids) == len(set(ids)) == 2


def test_comments_elsewhere_in_a_thread_that_is_no_ones_are_not_passed_on(tmp_path: Path, hn: HNSearch) -> None:
    rig = Rig(_config(tmp_path, hn))
    story = hn.story("x", "Show HN: my weekend project", url="https://example.org")
    hn.comment("y", "Looks nice", parent=story)
    matched = hn.comment("z", "acme does this better, and cheaper", parent=story)
    rig.poll()
    answer = hn.comment("w", "No it does not", parent=matched)
    hn.comment("v", "What stack is it?", parent=story)  # not about us: stays out
    rig.poll()
    assert set(rig.roots()) == {f"hn:{matched}", f"hn:{answer}"}
    assert rig.roots()[f"hn:{answer}"] == f"hn:{matched}"
    assert rig.store.count("orphans") == 0


def test_the_hourly_request_limit_parks_the_source_until_the_hour_is_over(tmp_path: Path, hn: HNSearch) -> None:
    rig = Rig(_config(tmp_path, hn, requests_per_hour=2))
    story = hn.story("a", "acme is down")
    hn.story("b", "acme is down, day two")
    result = rig.poll()  # one search, one thread: the hour's two requests
    assert len(result.mentions) == 2
    hn.comment("c", "still down", parent=story)
    parked = rig.poll()
    assert parked.park_until is not None and parked.mentions == []
    assert len(hn.requests) == 2
    rig.clock.advance(3600)
    assert [m.text for m in rig.poll().mentions] == ["still down"]


def test_a_term_written_as_a_handle_or_hashtag_is_searched_once(tmp_path: Path, hn: HNSearch) -> None:
    from monitor.sources.hn import HNSource

    source = HNSource("hn:acme", ["acme", "@Acme", "#acme", '"acme broadband"'], _config(tmp_path, hn).settings.hn,
                      HttpFetcher(local_settings()), Store(tmp_path / "x.db"))
    assert source.terms == ["acme", "acme broadband"]


def test_a_story_hit_maps_title_link_and_counts() -> None:
    hit = {"created_at": "2024-05-01T10:00:00.000Z", "created_at_i": 1714557600, "title": "Acme raises prices",
           "url": "https://news.example/acme", "author": "dang", "points": 120, "story_text": None,
           "comment_text": None, "num_comments": 48, "story_id": None, "parent_id": None,
           "_tags": ["story", "author_dang", "story_40000000"], "objectID": "40000000"}
    m = hit_mention(hit, datetime.now(UTC))
    assert m is not None and (m.id, m.kind, m.source) == ("hn:40000000", "post", "hn")
    assert m.url == "https://news.ycombinator.com/item?id=40000000" and m.links == ["https://news.example/acme"]
    assert m.full_text == "Acme raises prices" and m.metrics == {"likes": 120, "comments": 48}


def test_make_run_says_whether_hacker_news_is_on(tmp_path: Path, hn: HNSearch) -> None:
    assert any(x.startswith("Hacker News: on, searching") for x in open_network_lines(_config(tmp_path, hn)))
    off = load_config(write_config(tmp_path / "off", [{"name": "acme", "terms": ["acme"]}]))
    assert "Hacker News: off, disabled in settings (hn.enabled: false)" in open_network_lines(off)
