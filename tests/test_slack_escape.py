"""Untrusted text stays text: whatever a tweet says, the Slack message pings nobody and links nowhere."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts.base import Message
from monitor.alerts.escape import FULLWIDTH_AT, escape, escape_inline, link, safe_url, truncate, unescape
from monitor.alerts.render import render_alert, render_digest, render_spike, render_update

INJECTIONS = [
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123|general>", "<!subteam^S123>",
    "<https://evil.example|click>", "<http://evil.example>", "@everyone", "@channel", "@here", "@HERE",
    "&lt;!channel&gt;", "&amp;", "&", "<", ">", "|", "*bold*", "`code`", "\u202eevil", "\x1b[31mred",
    "<mailto:a@b.c>",
    "@channel@here", "<<!channel>>", "&&lt;", "<!date^1392734382^{date}|x>", "\r\n> quoted",
]
# Text that may contain any of the injections, mixed with arbitrary unicode.
untrusted = st.lists(st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=40)), max_size=8).map("".join)

ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
BROADCAST = re.compile(r"@(channel|here|everyone)", re.IGNORECASE)
OUR_LINK = re.compile(r"<https?://[^\s|<>@]+\|[^<>]*>")


def assert_inert(text: str) -> None:
    """No Slack control sequence survives except links we built from a sanitised URL."""
    for bad in ("<!", "<@", "<#"):
        assert bad not in text, (bad, text)
    without_links = OUR_LINK.sub("", text)
    assert "<" not in without_links and ">" not in without_links.replace("\n>", "\n").lstrip(">"), text
    assert not BROADCAST.search(text), text
    assert not ENTITY.search(text), text


def texts(message: Message) -> list[str]:
    out = [message.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                out.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(message.blocks)
    return out


@settings(deadline=None)
@given(untrusted)
def test_escaped_text_holds_no_control_characters_and_no_broadcasts(text: str) -> None:
    out = escape(text)
    assert "<" not in out and ">" not in out
    assert not ENTITY.search(out)
    assert not BROADCAST.search(out)


@settings(deadline=None)
@given(untrusted)
def test_escaping_loses_nothing_but_controls_and_the_broadcast_at_sign(text: str) -> None:
    out = unescape(escape(text)).replace(FULLWIDTH_AT, "@")
    expected = re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", "",
                      text.replace("\r\n", "\n").replace("\r", "\n")).replace(FULLWIDTH_AT, "@")
    assert out == expected


def test_ampersand_is_escaped_first_so_entities_in_a_tweet_stay_visible() -> None:
    assert escape("a & b <c> &lt;") == "a &amp; b &lt;c&gt; &amp;lt;"


def test_each_known_injection_renders_as_text() -> None:
    for attempt in INJECTIONS:
        assert_inert(escape(attempt))
    assert escape("@everyone look") == f"{FULLWIDTH_AT}everyone look"
    assert escape("<!channel> hi") == "&lt;!channel&gt; hi"
    assert escape("<https://evil.example|click>") == "&lt;https://evil.example|click&gt;"


@settings(deadline=None)
@given(untrusted, st.integers(min_value=1, max_value=300))
def test_truncation_never_breaks_an_escape(text: str, limit: int) -> None:
    escaped = escape(text)
    out = truncate(escaped, limit)
    assert len(out) <= limit
    assert not ENTITY.search(out), out
    assert escaped.startswith(out.removesuffix("…"))


def test_truncation_steps_back_over_a_half_entity_and_a_half_link() -> None:
    assert truncate("abc &amp; def", 8) == "abc …"
    assert truncate("see <https://x.example/a|open> now", 12) == "see …"
    assert truncate("short", 10) == "short"


@settings(deadline=None)
@given(st.text(max_size=60) | st.sampled_from([
    "https://evil.example|click", "https://a.example/<!channel>", "javascript:alert(1)", "https://user:pw@h.example/x",
    "https://h.example/@channel", "https://h.example/a b?q=1&r=<2>", "slack://open", "http://[::1]:80/x", "https://",
]))
def test_only_http_links_survive_and_they_cannot_break_out(url: str) -> None:
    safe = safe_url(url)
    if safe is not None:
        assert re.fullmatch(r"https?://[^\s|<>@]+", safe), safe
        assert not ENTITY.search(safe)
    rendered = link(url, escape("<!channel> @here"))
    assert_inert(rendered)


def _decision(t: list[str], url: str) -> dict[str, Any]:
    return {
        "kind": "cascade", "level": "new", "watchlist": "acme", "root_id": t[0], "decision": "first_alert",
        "reason": t[1], "reactions": 12, "projected": 400, "threshold": 300, "rate": 50, "reach": 1000,
        "channels": [t[2], "x"], "vip": True, "vips": [t[3]],
        "root": {"id": t[0], "source": t[4], "url": url, "title": t[5], "text": t[6],
                 "author": {"handle": t[7], "name": t[8], "followers": 10}},
        "complaint": {"probability": 0.9, "category": t[9], "specific": True, "cues": [t[10]]},
        "sentiment": {"root": -0.5, "negative": 1, "neutral": 2, "positive": 3},
        "growth": [1, 2, 3], "growth_bucket": t[11],
        "top_reactions": [{"id": "x:2", "kind": t[12], "text": t[13], "author": t[14], "followers": 5,
                           "url": url}],
        "observed": 30, "baseline": 4, "window": t[15], "top_terms": [t[16]],
        "examples": [{"id": "x:3", "text": t[17], "author": t[18], "url": url}],
    }


@settings(max_examples=150, deadline=None)
@given(st.lists(untrusted, min_size=19, max_size=19),
       st.one_of(untrusted, st.sampled_from(["https://evil.example|click", "https://ok.example/p?a=1&b=<!here>"])))
def test_every_rendered_message_is_inert_whatever_the_tweets_say(t: list[str], url: str) -> None:
    d = _decision(t, url)
    messages = [render_alert(d, alert_id=1), render_update(d), render_alert(d, updated="12:00 UTC"),
                render_spike(dict(d, kind="spike")), render_digest({"digest": "quiet", "watchlist": "acme",
                                                                   "items": [d], "window": t[0]}),
                render_digest({"digest": "daily", "watchlist": "acme", "top": [d], "period": t[1]})]
    for m in messages:
        for text in texts(m):
            assert_inert(text)
        assert "link_names" not in json.dumps(m.blocks)


def test_handle_named_like_a_broadcast_cannot_ping() -> None:
    d = _decision(["x"] * 19, "https://ok.example")
    d["root"]["author"]["handle"] = "here"
    d["top_reactions"][0]["author"] = "channel"
    for text in texts(render_alert(d)):
        assert_inert(text)
    assert f"{FULLWIDTH_AT}here" in render_alert(d).blocks[1]["text"]["text"]


def test_inline_escaping_flattens_newlines() -> None:
    assert escape_inline("a\n\n b\t<c>") == "a b &lt;c&gt;"
