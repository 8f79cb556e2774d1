"""Bluesky through Jetstream: a complaint and its replies, quotes and reposts arrive over a real websocket
(the stand-in on 127.0.0.1), are filtered from the rest of the network here, join one cascade, alert,
and resume from their cursor after a restart or a dropped connection with nothing stored twice or lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.standins.bluesky import AppView, Jetstream
from monitor.clock import SimulatedClock
from monitor.config.settings import Config, load_config
from monitor.engine.pipeline import Pipeline
from monitor.engine.runner import poll_source
from monitor.errors import SourceError
from monitor.records.mention import Author, Mention
from monitor.sources import build_sources, open_network_lines
from monitor.sources.bluesky import BlueskySource, event_candidate, mention_id
from monitor.sources.http import HttpFetcher
from monitor.store.database import Store
from tests.conftest import local_settings, write_config

PARENT = "at://did:plc:wa7b35aakoll7hugkrjtf3xf/app.bsky.feed.post/3l3pte3p2e325"
PARENT_CID = "bafyreidc6sydkkbchcyg62v77wbhzvb2mvytlmsychqgwf2xojjtirmzj4"
COMPLAINT = "acme cancelled my order twice and support never answers. Charged again. Never again."
ALICE = "did:plc:alice000000000000000000"


@pytest.fixture
def stream() -> Iterator[Jetstream]:
    with Jetstream() as js:
        yield js


@pytest.fixture
def appview() -> Iterator[AppView]:
    with AppView() as av:
        yield av


def _config(tmp_path: Path, stream: Jetstream, appview: AppView) -> Config:
    wl = {"name": "acme", "terms": ["acme"], "alert": {"spread_threshold": 5, "spike": False, "cooldown": "0s"}}
    return load_config(write_config(
        tmp_path, [wl], bluesky={"enabled": True, "jetstream_url": stream.url, "api_url": appview.url,
                                 "idle_timeout": "0.3s"},
        detection={"min_reactions": 3}))


class Rig:
    """The daemon's parts for one process: a store, a pipeline and the Bluesky source built from config."""

    def __init__(self, config: Config):
        self.config = config
        self.clock = SimulatedClock(datetime.now(UTC))
        self.store = Store(config.database_path)
        self.pipeline = Pipeline(config, self.store, self.clock, deliver=False)
        [self.source] = [s for s in build_sources(config, self.store, self.clock, HttpFetcher(config.settings.blogs),
                                                  matcher=self.pipeline.matcher) if s.key == "bluesky:jetstream"]

    def poll(self) -> Any:
        self.clock.set(datetime.now(UTC))  # the stand-in stamps events with the wall clock
        return asyncio.run(poll_source(self.source, self.pipeline, self.store, self.clock))

    def ids(self) -> list[str]:
        return [r[0] for r in self.store.conn.execute("SELECT id FROM mentions WHERE source = 'bluesky' ORDER BY id")]

    def close(self) -> None:
        self.store.close()


# -- the wire format ---------------------------------------------------------------------------------
class _AnyText:
    def watchlists_for(self, text: str) -> tuple[str, ...]:
        return ("acme",) if "acme" in text else ()


def test_jetstream_events_shaped_as_its_documentation_become_mentions() -> None:
    now = datetime.now(UTC)
    reply = {"did": "did:plc:eygmaihciaxprqvxpfvl6flk", "time_us": 1725911162329308, "kind": "commit",
             "commit": {"rev": "3l3qo2vutsw2b", "operation": "create", "collection": "app.bsky.feed.post",
                        "rkey": "3l3qo2vuowo2b", "cid": "bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi",
                        "record": {"$type": "app.bsky.feed.post", "createdAt": "2024-09-09T19:46:02.102Z",
                                   "text": "same problem here", "langs": ["en"],
                                   "reply": {"parent": {"uri": PARENT, "cid": PARENT_CID},
                                             "root": {"uri": PARENT, "cid": PARENT_CID}}}}}
    c = event_candidate(reply, _AnyText(), now)
    assert c is not None and not c.matched
    m = c.mention
    assert m.id == "bluesky:did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vuowo2b"
    assert (m.kind, m.source, m.text) == ("reply", "bluesky", "same problem here")
    assert m.parent_id == mention_id(PARENT)
    assert m.url == "https://bsky.app/profile/did:plc:eygmaihciaxprqvxpfvl6flk/post/3l3qo2vuowo2b"
    assert m.created_at == datetime(2024, 9, 9, 19, 46, 2, 102000, tzinfo=UTC)
    assert m.extra["time_us"] == 1725911162329308

    quote = {**reply, "commit": {**reply["commit"], "record": {
        "$type": "app.bsky.feed.post", "createdAt": "2024-09-09T19:46:02.102Z", "text": "look at this acme mess",
        "embed": {"$type": "app.bsky.embed.recordWithMedia",
                  "record": {"record": {"uri": "at://did:plc:x/app.bsky.feed.post/3abc", "cid": "bafy"}},
                  "media": {"$type": "app.bsky.embed.external",
                            "external": {"uri": "https://blog.example/acme-outage", "title": "", "description": ""}}},
        "facets": [{"index": {"byteStart": 0, "byteEnd": 4},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://x.com/a/status/42"}]}]}}}
    q = event_candidate(quote, _AnyText(), now)
    assert q is not None and q.matched and q.mention.kind == "quote"
    assert q.mention.parent_id == "bluesky:did:plc:x/app.bsky.feed.post/3abc"
    assert q.mention.links == ["https://x.com/a/status/42", "https://blog.example/acme-outage"]

    repost = {"did": "did:plc:r", "time_us": 1725911162329309, "kind": "commit",
              "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.repost", "rkey": "3r",
                         "record": {"$type": "app.bsky.feed.repost", "createdAt": "2024-09-09T19:46:02.102Z",
                                    "subject": {"uri": "at://did:plc:x/app.bsky.feed.post/3abc", "cid": "bafy"}}}}
    r = event_candidate(repost, _AnyText(), now)
    assert r is not None
    assert (r.mention.kind, r.mention.parent_id) == ("repost", "bluesky:did:plc:x/app.bsky.feed.post/3abc")

    plain = {**reply, "commit": {**reply["commit"], "record": {"$type": "app.bsky.feed.post", "text": "hello",
                                                                "createdAt": "2024-09-09T19:46:02.102Z"}}}
    assert event_candidate(plain, _AnyText(), now) is None  # nothing it could belong to
    assert event_candidate({**reply, "commit": {**reply["commit"], "operation": "delete"}}, _AnyText(), now) is None
    identity = {"did": "did:plc:a", "time_us": 1, "kind": "identity", "identity": {}}
    assert event_candidate(identity, _AnyText(), now) is None


# -- end to end through the pipeline -----------------------------------------------------------------
def test_a_bluesky_complaint_with_replies_and_reposts_arriving_over_jetstream_is_alerted(
        tmp_path: Path, stream: Jetstream, appview: AppView) -> None:
    rig = Rig(_config(tmp_path, stream, appview))
    appview.add_profile(ALICE, "alice.bsky.social", 12_000, "Alice")
    rig.poll()  # connected once: the cursor is set
    root = stream.post(ALICE, COMPLAINT)
    for i in range(3):
        stream.post(f"did:plc:reply{i}", f"same here, they did it to me too ({i})", reply_to=root)
    for i in range(4):
        stream.repost(f"did:plc:fan{i}", root)
    stream.post("did:plc:quoter", "this is what support looks like now", quote=root)
    for i in range(30):  # the rest of the network
        stream.post(f"did:plc:other{i}", f"good morning {i}")
        stream.repost(f"did:plc:other{i}", f"at://did:plc:someone/app.bsky.feed.post/3zz{i}")
    stream.identity(ALICE, "alice.bsky.social")
    result = rig.poll()

    root_id = mention_id(root)
    assert result.detail["events"] == 70 and len(result.mentions) == 9
    assert len(rig.ids()) == 9 and all("other" not in i for i in rig.ids())
    assert rig.store.count("orphans") == 0  # the network's other reposts wait nowhere
    rows = rig.store.conn.execute("SELECT kind, count(*) FROM mentions WHERE root_id = ? GROUP BY kind",
                                  (root_id,)).fetchall()
    assert dict(rows) == {"post": 1, "reply": 3, "repost": 4, "quote": 1}
    [root_m] = [m for m in result.mentions if m.id == root_id]
    assert (root_m.author.handle, root_m.author.followers, root_m.author.name) == ("alice.bsky.social", 12_000, "Alice")
    assert root_m.url == f"https://bsky.app/profile/alice.bsky.social/post/{root.rsplit('/', 1)[-1]}"

    decisions = rig.pipeline.detect()
    assert [(d.name, d.root_id) for d in decisions if d.level is not None] == [("first_alert", root_id)]
    assert all(c.get("wantedCollections") == ["app.bsky.feed.post", "app.bsky.feed.repost"]
               for c in stream.connections)
    rig.close()


def test_after_an_abrupt_stop_the_stream_resumes_from_its_cursor_with_nothing_doubled_or_missed(
        tmp_path: Path, stream: Jetstream, appview: AppView) -> None:
    config = _config(tmp_path, stream, appview)
    rig = Rig(config)
    rig.poll()
    root = stream.post(ALICE, COMPLAINT)
    stream.post("did:plc:r1", "me too", reply_to=root)
    rig.poll()
    stored = rig.ids()
    cursor = rig.store.get_cursor("bluesky:jetstream")
    assert cursor is not None and len(stored) == 2
    # The process dies without closing anything (no clean shutdown); events go on meanwhile.
    stream.post("did:plc:r2", "same, two weeks now", reply_to=root)
    stream.repost("did:plc:fan", root)
    rig.store.conn.close()

    again = Rig(config)
    again.poll()
    resumed = stream.connections[-1]
    rewind = int(config.settings.bluesky.rewind.total_seconds() * 1e6)
    assert int(resumed["cursor"][0]) == cursor["time_us"] - rewind  # from the stored cursor, a little before
    ids = again.ids()
    assert len(ids) == len(set(ids)) == 4 and set(stored) <= set(ids)
    assert again.pipeline.counts.get("updated", 0) == 0  # the replayed seconds were skipped by id, not re-stored
    again.close()


def test_a_dropped_connection_keeps_what_was_read_and_the_next_poll_goes_on_from_there(
        tmp_path: Path, stream: Jetstream, appview: AppView) -> None:
    rig = Rig(_config(tmp_path, stream, appview))
    rig.poll()
    root = stream.post(ALICE, COMPLAINT)
    for i in range(6):
        stream.post(f"did:plc:r{i}", f"me too {i}", reply_to=root)
    stream.drop_after(3)
    cut = rig.poll()
    assert len(cut.mentions) == 3 and any("dropped" in w for w in cut.warnings)
    rest = rig.poll()
    assert len(rest.mentions) == 4
    assert len(set(rig.ids())) == len(rig.ids()) == 7


def test_a_post_linking_a_tracked_x_post_joins_its_cascade(tmp_path: Path, stream: Jetstream,
                                                            appview: AppView) -> None:
    rig = Rig(_config(tmp_path, stream, appview))
    now = datetime.now(UTC)
    x_root = Mention("x:1790000000000000001", "x", "post", None, "https://x.com/carol/status/1790000000000000001",
                     Author("9", "carol", followers=500), COMPLAINT, [], now, now)
    rig.pipeline.ingest([x_root])
    rig.poll()
    stream.post("did:plc:sharer", "look at this https://twitter.com/carol/status/1790000000000000001?s=20",
                links=["https://twitter.com/carol/status/1790000000000000001?s=20"])
    rig.poll()
    [(root_id,)] = rig.store.conn.execute("SELECT root_id FROM mentions WHERE source = 'bluesky'").fetchall()
    assert root_id == "x:1790000000000000001"


def test_a_post_linking_a_tracked_blog_post_joins_its_cascade(tmp_path: Path, stream: Jetstream,
                                                               appview: AppView) -> None:
    rig = Rig(_config(tmp_path, stream, appview))
    now = datetime.now(UTC)
    blog_root = Mention("rss:blog-cancel", "rss", "post", None, "https://blog.example.com/2026/i-tried-to-cancel",
                        Author("blog.example.com/dana", "dana"), COMPLAINT, [], now, now)
    rig.pipeline.ingest([blog_root])
    rig.poll()
    link = "https://blog.example.com/2026/i-tried-to-cancel?utm_source=bsky"
    stream.post("did:plc:reader", f"this happened to me too {link}", links=[link])
    rig.poll()
    [(root_id,)] = rig.store.conn.execute("SELECT root_id FROM mentions WHERE source = 'bluesky'").fetchall()
    assert root_id == "rss:blog-cancel"


def test_follower_counts_are_asked_25_authors_at_a_time_and_cached(tmp_path: Path, stream: Jetstream,
                                                                     appview: AppView) -> None:
    rig = Rig(_config(tmp_path, stream, appview))
    rig.poll()
    for i in range(30):
        appview.add_profile(f"did:plc:a{i}", f"a{i}.bsky.social", i)
        stream.post(f"did:plc:a{i}", f"acme broke my thing ({i})")
    rig.poll()
    asks = [r for r in appview.requests if r.path.endswith("getProfiles")]
    assert [len(r.query["actors"]) for r in asks] == [25, 5]
    assert {m[0]: m[1] for m in rig.store.conn.execute(
        "SELECT json_extract(record, '$.author.handle'), json_extract(record, '$.author.followers')"
        " FROM mentions")}["a7.bsky.social"] == 7
    stream.post("did:plc:a3", "acme again")
    rig.poll()
    assert len([r for r in appview.requests if r.path.endswith("getProfiles")]) == 2  # cached


def test_an_unreachable_jetstream_is_a_retryable_failure_and_a_failing_appview_is_only_a_warning(
        tmp_path: Path, stream: Jetstream, appview: AppView) -> None:
    config = _config(tmp_path, stream, appview)
    store = Store(config.database_path)
    settings = config.settings.bluesky.model_copy(update={"jetstream_url": "ws://127.0.0.1:9/subscribe",
                                                          "api_url": "http://127.0.0.1:9"})
    source = BlueskySource("bluesky:jetstream", settings, store, _AnyText(), HttpFetcher(local_settings()))
    with pytest.raises(SourceError) as err:
        asyncio.run(source.poll(None, datetime.now(UTC)))
    assert err.value.retryable and "cannot read Jetstream" in str(err.value)

    ok = BlueskySource("bluesky:jetstream", settings.model_copy(update={"jetstream_url": stream.url,
                                                                        "idle_timeout": timedelta(seconds=0.3)}),
                       store, _AnyText(), HttpFetcher(local_settings()))
    first = asyncio.run(ok.poll(None, datetime.now(UTC)))
    stream.post(ALICE, "acme is down")
    result = asyncio.run(ok.poll(first.cursor, datetime.now(UTC)))
    assert len(result.mentions) == 1 and result.mentions[0].author.followers is None
    assert any("getProfiles failed" in w for w in result.warnings)
    store.close()


def test_make_run_says_whether_bluesky_is_on_and_why(tmp_path: Path, stream: Jetstream, appview: AppView) -> None:
    on = _config(tmp_path, stream, appview)
    [line] = [x for x in open_network_lines(on) if x.startswith("Bluesky")]
    assert line.startswith("Bluesky: on, streaming app.bsky.feed.post, app.bsky.feed.repost from ws://127.0.0.1")
    off = load_config(write_config(tmp_path / "off", [{"name": "acme", "terms": ["acme"]}]))
    assert "Bluesky: off, disabled in settings (bluesky.enabled: false)" in open_network_lines(off)
    store = Store(off.database_path)
    assert not [s for s in build_sources(off, store, SimulatedClock(datetime.now(UTC))) if s.key.startswith("bluesky")]
    store.close()


def test_a_poll_far_behind_judges_what_it_reads_in_chunks_and_keeps_the_same(
        tmp_path: Path, stream: Jetstream, appview: AppView, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.sources.bluesky as bluesky

    monkeypatch.setattr(bluesky, "SETTLE_EVERY", 2)  # a reaction and its post fall in different chunks
    rig = Rig(_config(tmp_path, stream, appview))
    rig.poll()
    root = stream.post(ALICE, COMPLAINT)
    stream.post("did:plc:noise", "hello world", reply_to="at://did:plc:x/app.bsky.feed.post/3zz")
    first = stream.post("did:plc:r1", "me too", reply_to=root)
    stream.repost("did:plc:noise2", "at://did:plc:x/app.bsky.feed.post/3zz")
    stream.post("did:plc:r2", "and me", reply_to=first, root=root)  # a reply to a reply, chunks later
    stream.repost("did:plc:fan", root)
    result = rig.poll()
    assert sorted(m.author.id for m in result.mentions) == sorted([ALICE, "did:plc:r1", "did:plc:r2", "did:plc:fan"])
    [deep] = [m for m in result.mentions if m.author.id == "did:plc:r2"]
    assert deep.parent_id == mention_id(first)


def test_a_post_elsewhere_linking_a_tracked_bluesky_post_joins_its_cascade(
        tmp_path: Path, stream: Jetstream, appview: AppView) -> None:
    rig = Rig(_config(tmp_path, stream, appview))
    appview.add_profile(ALICE, "alice.bsky.social", 900)
    rig.poll()
    root = stream.post(ALICE, COMPLAINT)
    rig.poll()
    now = datetime.now(UTC)
    shared = f"https://bsky.app/profile/alice.bsky.social/post/{root.rsplit('/', 1)[-1]}"
    tweet = Mention("x:1790000000000000009", "x", "post", None, "https://x.com/dan/status/1790000000000000009",
                    Author("10", "dan"), f"look at this {shared}", [shared], now, now)
    rig.pipeline.ingest([tweet])
    assert rig.store.tracked(["x:1790000000000000009"])["x:1790000000000000009"].root_id == mention_id(root)
