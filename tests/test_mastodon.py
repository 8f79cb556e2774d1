"""Mastodon: hashtag timelines of the instances a watch-list names, read politely; a complaint's replies
and boosts join its cascade and alert; HTML is read as text; a token (from the environment) adds search."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.mastodon import MastodonInstance
from monitor.config.settings import Config, load_config
from monitor.engine.runner import poll_source
from monitor.errors import ConfigError
from monitor.sources import open_network_lines
from monitor.sources.mastodon import status_mention
from tests.conftest import SourceRig, write_config

COMPLAINT = "#acme cancelled my order twice and support never answers. Charged again. Never again."
TOKEN = "mastodon-token-0123456789abcdef"


@pytest.fixture
def instance() -> Iterator[MastodonInstance]:
    with MastodonInstance(token=TOKEN) as inst:
        yield inst


def _config(tmp_path: Path, instance: MastodonInstance, **mastodon: Any) -> Config:
    wl = {"name": "acme", "terms": ["acme"], "mastodon": {"instances": [instance.url], "hashtags": ["acme"]},
          "alert": {"spread_threshold": 5, "spike": False, "cooldown": "0s"}}
    return load_config(write_config(tmp_path, [wl], mastodon=mastodon, detection={"min_reactions": 3}))


def Rig(config: Config) -> SourceRig:
    return SourceRig(config, "mastodon:")


def test_a_mastodon_thread_with_replies_and_boosts_alerts_as_a_cascade(tmp_path: Path,
                                                                       instance: MastodonInstance) -> None:
    rig = Rig(_config(tmp_path, instance))
    assert rig.source.key == f"mastodon:127.0.0.1:{instance.server.port}"
    root = instance.post("carol", COMPLAINT, followers=4000, tags=["acme"])
    rig.poll()  # the hashtag timeline finds the complaint; its thread is followed from now on
    for i in range(3):
        instance.post(f"r{i}", f"@carol same here ({i})", reply_to=root)  # replies name no hashtag
    for i in range(3):
        instance.boost(f"fan{i}", root, followers=300)
    rig.poll()
    root_id = f"mastodon:127.0.0.1:{instance.server.port}/{root}"
    kinds = dict(rig.store.conn.execute("SELECT kind, count(*) FROM mentions WHERE root_id = ? GROUP BY kind",
                                        (root_id,)).fetchall())
    assert kinds == {"post": 1, "reply": 3, "repost": 3}
    decisions = [d for d in rig.pipeline.detect() if d.level is not None]
    assert [(d.name, d.root_id) for d in decisions] == [("first_alert", root_id)]
    third = rig.poll()
    assert third.mentions == []  # replies and boosts already read are not passed on again
    paths = [r.path for r in instance.requests]
    assert f"/api/v1/statuses/{root}/context" in paths and f"/api/v1/statuses/{root}/reblogged_by" in paths
    assert all("authorization" not in r.headers for r in instance.requests)  # no token configured
    rig.store.close()


def test_status_html_is_read_as_text_and_hashtag_and_profile_links_are_not_its_links() -> None:
    host = "social.example"
    status = {"id": "1", "created_at": "2026-12-01T10:00:00.000Z", "uri": "https://social.example/users/c/statuses/1",
              "url": "https://social.example/@c/1", "in_reply_to_id": None, "reblog": None, "spoiler_text": "",
              "content": '<p>acme &amp; co <script>alert(1)</script>lost my &lt;b&gt;parcel&lt;/b&gt;'
                         '<br>see <a href="https://blog.example/post">blog</a> '
                         '<a href="https://social.example/tags/acme" class="mention hashtag" rel="tag">#<span>acme'
                         '</span></a> <span class="h-card"><a href="https://social.example/@acme" '
                         'class="u-url mention">@<span>acme</span></a></span></p>',
              "account": {"id": "7", "acct": "c", "display_name": "C", "followers_count": 12},
              "mentions": [{"id": "8", "acct": "acme", "url": "https://social.example/@acme"}],
              "replies_count": 2, "reblogs_count": 5, "favourites_count": 9}
    [m] = status_mention(status, host, datetime.now(UTC))
    # Markup goes, scripts with it; what was written as text (escaped) stays text, literally.
    assert not any(tag in m.text for tag in ("<p", "<a", "<br", "<script", "<span")) and "alert(1)" not in m.text
    assert m.text.startswith("acme & co lost my <b>parcel</b>") and "#acme" in m.text
    assert m.links == ["https://blog.example/post"]
    assert m.metrics == {"reposts": 5, "replies": 2, "likes": 9}
    assert (m.author.handle, m.author.followers) == ("c", 12)
    boost = {**status, "id": "2", "reblog": status, "content": ""}
    original, repost = status_mention(boost, host, datetime.now(UTC))
    assert original.id == "mastodon:social.example/1"
    assert (repost.kind, repost.parent_id) == ("repost", "mastodon:social.example/1")


def test_each_instance_is_polled_within_its_rate_limit_and_parks_until_the_reset(
        tmp_path: Path, instance: MastodonInstance) -> None:
    rig = Rig(_config(tmp_path, instance))
    instance.post("carol", COMPLAINT, tags=["acme"])
    instance.remaining = 6  # what X-RateLimit-Remaining will say: nearly spent
    result = rig.poll()
    assert result.park_until is not None
    assert abs((result.park_until - instance.reset).total_seconds()) < 1  # X-RateLimit-Reset
    [health] = [h for h in rig.store.health() if h["source_key"] == rig.source.key]
    assert health["paused_until"] is not None
    asked = len(instance.requests)
    skipped = rig.poll()
    assert skipped.detail == {"skipped": "parked"} and len(instance.requests) == asked


def test_a_burst_larger_than_a_page_is_read_whole_by_paging_back_to_since_id(
        tmp_path: Path, instance: MastodonInstance) -> None:
    rig = Rig(_config(tmp_path, instance, page_limit=10, max_pages_per_cycle=2))
    instance.post("first", "#acme is slow today", tags=["acme"])
    rig.poll()
    for i in range(35):
        instance.post(f"u{i}", f"#acme broke again ({i})", tags=["acme"])
    rig.poll()  # two pages of ten this cycle, the rest the next ones
    rig.poll()
    ids = [r[0] for r in rig.store.conn.execute("SELECT id FROM mentions")]
    assert len(ids) == len(set(ids)) == 36
    tag_asks = [r.query for r in instance.requests if "/timelines/tag/" in r.path]
    assert all(q["limit"] == ["10"] for q in tag_asks) and any("since_id" in q and "max_id" in q for q in tag_asks)


def test_a_token_named_in_the_config_and_held_in_the_environment_adds_search(
        tmp_path: Path, instance: MastodonInstance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTO_TEST_TOKEN", TOKEN)
    config = _config(tmp_path, instance, token_envs={f"127.0.0.1:{instance.server.port}": "MASTO_TEST_TOKEN"})
    rig = Rig(config)
    instance.post("dave", "acme support is a joke")  # no hashtag: only search finds it
    rig.poll()
    texts = [r[0] for r in rig.store.conn.execute("SELECT json_extract(record, '$.text') FROM mentions")]
    assert texts == ["acme support is a joke"]
    assert any(r.path == "/api/v2/search" and r.headers.get("authorization") == f"Bearer {TOKEN}"
               for r in instance.requests)
    assert TOKEN not in repr(rig.source.__dict__)
    assert any("search with a token on 1" in line for line in open_network_lines(config))


def test_a_token_itself_in_the_config_is_refused(tmp_path: Path, instance: MastodonInstance) -> None:
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, instance, token_envs={"mastodon.social": "abc-123.secret/token"})
    assert "NAME of an environment variable" in str(err.value)


@pytest.mark.parametrize("bad, field", [({"instances": ["not a host!"], "hashtags": ["acme"]}, "instances"),
                                        ({"instances": ["mastodon.social"], "hashtags": ["acme fail"]}, "hashtags"),
                                        ({"instances": [], "hashtags": ["acme"]}, "instances")])
def test_a_bad_mastodon_watch_list_entry_is_refused_naming_its_field(tmp_path: Path, bad: dict[str, Any],
                                                                    field: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, [{"name": "acme", "terms": ["acme"], "mastodon": bad}]))
    assert f"mastodon.{field}" in str(err.value) and "acme.yaml" in str(err.value)


def test_a_429_parks_the_instance_instead_of_retrying(tmp_path: Path, instance: MastodonInstance) -> None:
    rig = Rig(_config(tmp_path, instance))
    instance.remaining = 0  # someone else on this IP spent the window
    result = rig.poll()
    assert "rate limited" in result.detail["error"] and result.park_until is not None
    assert (result.park_until - rig.clock.now()).total_seconds() >= 60
    asked = len(instance.requests)
    again = asyncio.run(poll_source(rig.source, rig.pipeline, rig.store, rig.clock))  # within the wait
    assert again.detail == {"skipped": "parked"} and len(instance.requests) == asked



def test_the_source_counts_its_own_requests_and_parks_when_its_window_is_spent(
        tmp_path: Path, instance: MastodonInstance) -> None:
    # The instance's headers say plenty remain (another IP's view, or an instance that sends none): the
    # source's own count of requests_per_window is what keeps it polite.
    rig = Rig(_config(tmp_path, instance, requests_per_window=3))
    roots = [instance.post(f"c{i}", f"{COMPLAINT} ({i})", tags=["acme"]) for i in range(3)]
    for root in roots:
        instance.post("r", "@c same here", reply_to=root)
    first = rig.poll()  # the timeline, then one status's context and boosts: three requests
    asked = len(instance.requests)
    assert asked == 3 and first.detail["requests"] == 3 and first.detail["window_used"] == 3
    assert first.detail["rate_limit_remaining"] > 5  # not the instance's headers: its own count
    assert first.park_until is not None and first.park_until > rig.clock.now()
    [health] = [h for h in rig.store.health() if h["source_key"] == rig.source.key]
    assert health["paused_until"] is not None
    while rig.clock.now() < first.park_until - timedelta(seconds=120):
        assert rig.poll().detail == {"skipped": "parked"}  # within the window: nothing asked
    assert len(instance.requests) == asked


def test_when_a_window_fits_only_some_threads_the_others_are_followed_in_the_next_windows(
        tmp_path: Path, instance: MastodonInstance) -> None:
    rig = Rig(_config(tmp_path, instance, requests_per_window=3))  # a timeline page and one thread a window
    roots = [instance.post(f"c{i}", f"{COMPLAINT} ({i})", tags=["acme"]) for i in range(3)]
    for root in roots:
        instance.post("r", "@c same here", reply_to=root)

    def replies() -> int:
        return int(rig.store.conn.execute("SELECT count(*) FROM mentions WHERE kind = 'reply'").fetchone()[0])

    for _ in range(12):  # 24 minutes: windows enough for every thread
        rig.poll()
        if replies() == 3:
            break
    assert replies() == 3  # the newest thread does not take every window: each is followed in turn
