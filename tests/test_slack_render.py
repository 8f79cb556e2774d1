"""The message a PR person reads: what is spreading, why it fired, how fast, within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

from monitor.alerts.cli import sample_alert
from monitor.alerts.console import as_text
from monitor.alerts.render import (
    BLOCKS_BUDGET,
    FIELD_LIMIT,
    HEADER_LIMIT,
    SECTION_LIMIT,
    compact,
    render_alert,
    render_digest,
    render_spike,
    render_update,
    sparkline,
)


def storm(**over: Any) -> dict[str, Any]:
    d = {
        "at": "2026-03-02T09:30:00Z", "kind": "cascade", "level": "new", "watchlist": "acme",
        "root_id": "x:100",
        "decision": "first_alert", "reason": "340 reactions in 40 minutes, projected past the threshold",
        "reactions": 340, "score": 0.93, "projected": 1250, "rate": 510, "reach": 2_400_000,
        "channels": ["x", "rss"], "threshold": 300, "vip": False, "vips": [],
        "root": {"id": "x:100", "source": "x", "url": "https://x.com/jane/status/100",
                 "text": "Acme charged me twice & support closed my ticket. Third time this year.",
                 "author": {"handle": "jane", "name": "Jane Doe", "followers": 48200},
                 "created_at": "2026-03-02T08:50:00Z"},
        "complaint": {"probability": 0.93, "category": "billing", "specific": True,
                      "cues": ["charged twice"]},
        "sentiment": {"root": -0.71, "negative": 210, "neutral": 95, "positive": 35},
        "growth": [2, 5, 14, 40, 96, 183], "growth_bucket": "10m",
        "top_reactions": [
            {"id": "x:101", "kind": "quote", "text": "Same thing happened to me", "author": "bob",
             "followers": 120000, "url": "https://x.com/bob/status/101"},
            {"id": "x:102", "kind": "reply", "text": "Switching banks", "author": "carol", "followers": 900,
             "url": "https://x.com/carol/status/102"},
        ],
    }
    d.update(over)
    return d


def all_text(message: Any) -> str:
    return as_text(message) + "\n" + message.text


def test_alert_shows_what_is_spreading_quoted_with_author_followers_link_and_source() -> None:
    m = render_alert(storm(), alert_id=7)
    what = m.blocks[1]["text"]["text"]
    assert "*@jane (Jane Doe)* · 48.2k followers · on X" in what
    assert ">Acme charged me twice &amp; support closed my ticket." in what
    assert "<https://x.com/jane/status/100|Open on X>" in what
    assert m.blocks[0]["type"] == "header" and "acme" in m.blocks[0]["text"]["text"]


def test_alert_says_why_it_fired_reactions_rate_projection_reach_channels_sentiment_complaint() -> None:
    fields = " | ".join(f["text"] for f in render_alert(storm()).blocks[2]["fields"])
    for expected in ("*Reactions*\n340 · 510/h", "~1,250 vs threshold 300 (4.2×)", "2.4M followers",
                     "*Spread on*\nX, the blog", "210 neg · 95 neu · 35 pos (root -0.71)",
                     "billing, specific and actionable (p=0.93)", "projected past the threshold"):
        assert expected in fields


def test_alert_has_a_growth_sparkline_top_reactions_and_the_watchlist() -> None:
    text = all_text(render_alert(storm(), alert_id=7))
    assert "*Growth* per 10m: `▁▁▂▃▅█`  2 → 183" in text
    assert "@bob (120k) quote: “Same thing happened to me” <https://x.com/bob/status/101|open>" in text
    assert "Watch-list *acme*" in text and "alert #7" in text and "cues: charged twice" in text


def test_vip_alert_says_so_and_names_the_vips() -> None:
    text = all_text(render_alert(storm(vip=True, vips=["@bigvoice"])))
    assert "(VIP)" in text and "@bigvoice" in text


def test_plain_text_fallback_summarises_the_alert() -> None:
    m = render_alert(storm())
    assert m.text.startswith("Complaint spreading [acme] · @jane (Jane Doe): “Acme charged me twice")
    assert "340 reactions" in m.text and "projected ~1,250 vs 300" in m.text


def test_missing_optional_fields_render_gracefully() -> None:
    for d in ({"kind": "cascade", "watchlist": "acme", "root_id": "x:1"}, {},
              {"kind": "cascade", "root": "not a dict", "growth": "nope", "top_reactions": [None, 3],
               "sentiment": [], "complaint": {"cues": None}, "reactions": "many", "channels": "x"}):
        for m in (render_alert(d), render_update(d), render_spike(d)):
            assert m.text and m.blocks
            assert all(b.get("text", {}).get("text", "x") for b in m.blocks)


def test_spike_alert_shows_counts_against_baseline_top_terms_and_examples() -> None:
    d = {"kind": "spike", "level": "new", "watchlist": "acme", "root_id": "spike:acme:2026-03-02T09:00:00Z",
         "decision": "spike_alert", "observed": 42, "baseline": 6.5, "mad": 2.1, "window": "30m",
         "reason": "6x the usual complaint volume", "top_terms": ["login", "outage", "app"],
         "examples": [{"id": "x:9", "text": "cannot log in again", "author": "dan", "url": "https://x.com/dan/9"}]}
    m = render_alert(d)
    text = all_text(m)
    assert "Complaint spike" in m.blocks[0]["text"]["text"]
    assert "*42* complaints in the last 30m, against a baseline of *6* (MAD 2.1)" in text
    assert "`login`, `outage`, `app`" in text and "cannot log in again" in text
    assert m.text == "Complaint spike [acme] · 42 complaints in 30m vs baseline 6"


def test_thread_reply_is_short_and_the_edited_root_shows_current_figures() -> None:
    reply = render_update(storm(level="update", decision="growth_update", reactions=900,
                                reason="doubled in 20 min"))
    assert "*Update: growth update* · doubled in 20 min" in reply.blocks[0]["text"]["text"]
    assert "900 reactions" in reply.blocks[0]["text"]["text"]
    root = render_alert(storm(reactions=900), updated="10:05 UTC")
    assert "*Reactions*\n900" in all_text(root) and "updated 10:05 UTC" in all_text(root)


def test_long_text_is_cut_within_slack_limits_without_breaking_an_escape() -> None:
    huge = "&<>" * 5000 + "x" * 50000
    d = storm(reason=huge, root={"text": huge, "title": huge, "url": "https://x.com/" + "a" * 5000,
                                 "author": {"handle": huge, "name": huge}, "source": huge},
              top_reactions=[{"text": huge, "author": huge, "kind": huge, "url": "https://x.com/b"}] * 50,
              vips=[huge] * 50, channels=[huge] * 50, top_terms=[huge] * 50, watchlist="acme" * 100)
    spike = dict(d, kind="spike", examples=d["top_reactions"])
    for m in (render_alert(d), render_update(d), render_spike(spike),
              render_digest({"digest": "quiet", "items": [d] * 100, "watchlist": "acme"})):
        assert len(m.blocks) <= 50 and len(m.text) <= 3000
        total = 0
        for b in m.blocks:
            if b["type"] == "header":
                assert len(b["text"]["text"]) <= HEADER_LIMIT
            if "text" in b and b["type"] == "section":
                assert len(b["text"]["text"]) <= SECTION_LIMIT
            for f in b.get("fields", []):
                assert len(f["text"]) <= FIELD_LIMIT
            assert len(b.get("fields", [])) <= 10 and len(b.get("elements", [])) <= 10
            total += len(json.dumps(b, ensure_ascii=False))
        for piece in json.dumps(m.blocks, ensure_ascii=False).split("&")[1:]:
            assert piece.startswith(("amp;", "lt;", "gt;")), piece[:10]
        assert total < BLOCKS_BUDGET + 5000  # text is budgeted; JSON adds a little structure


def test_sparkline_scales_growth_to_eight_levels() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([]) == "" and sparkline(None) == ""
    assert len(sparkline(list(range(100)))) == 24


def test_follower_counts_are_compact() -> None:
    assert [compact(x) for x in (950, 12_345, 4_100_000, None)] == ["950", "12.3k", "4.1M", "?"]


def test_morning_digest_lists_the_held_storms_with_current_figures() -> None:
    m = render_digest({"digest": "quiet", "watchlist": "acme", "window": "22:00–07:00 Europe/London",
                       "items": [storm(), storm(root_id="x:200", reactions=80, projected=310)]})
    text = as_text(m)
    assert "Held overnight · acme" in text and "2 storm(s)" in text and "22:00–07:00 Europe/London" in text
    assert "@jane (Jane Doe)" in text and "340 reactions, projected ~1,250" in text


def test_daily_digest_shows_counts_sentiment_trend_and_top_complaints() -> None:
    m = render_digest({"digest": "daily", "watchlist": "acme", "period": "Monday 02 March 2026",
                       "mentions": 1200, "complaints": 96, "alerts": 3, "spikes": 1,
                       "sentiment": {"today": -0.2, "previous": -0.05}, "top": [storm()]})
    text = as_text(m)
    assert "*1,200* mentions, *96* complaints (8%), 3 storm alert(s), 1 spike(s)" in text
    assert "average -0.20 ↓ worse (previous 24 h -0.05)" in text and "@jane" in text


def test_sample_alert_for_test_alert_is_complete_and_inert() -> None:
    m = render_alert(sample_alert("acme", "2026-03-02T09:30:00Z"), title="Test alert")
    raw = json.dumps(m.blocks, ensure_ascii=False) + m.text
    assert "Test alert" in raw and "&lt;!channel&gt;" in raw and "<!channel>" not in raw


def test_the_sparkline_starts_at_the_storms_first_reactions_and_is_left_out_while_it_is_one_bar() -> None:
    base = {"kind": "cascade", "watchlist": "acme", "root_id": "x:1", "growth_bucket": "10m"}
    text = str(render_alert({**base, "growth": [0, 0, 0, 3, 9, 30]}).blocks)
    assert "*Growth* per 10m: `▂▃█`  3 → 30" in text  # the empty buckets before the storm are not growth
    assert "*Growth*" not in str(render_alert({**base, "growth": [0, 0, 0, 0, 14]}).blocks)
