"""Decision (the alert line) -> Block Kit blocks plus a plain-text fallback.

Everything that came from outside goes through escape.py and sits in ``mrkdwn`` text objects with
``verbatim: true`` (Slack then parses no mentions or channel names in them, only our own links).
Headers carry only our own words and the watch-list name. Limits: 150 characters a header, 3,000 a
section, 2,000 a field, 10 fields, 50 blocks; the sum of block text is kept under 12,000 because
Slack answers ``msg_blocks_too_long`` well before the documented 40,000 for ``text``.
Missing or malformed fields are skipped, never fatal: an alert with only a root id still renders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.alerts.base import Message
from monitor.alerts.controls import Controls
from monitor.alerts.escape import escape, escape_inline, link, neutralise_broadcasts, quote_block, truncate

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
BLOCKS_BUDGET = 12000
FALLBACK_LIMIT = 3000
BARS = "▁▂▃▄▅▆▇█"

Block = dict[str, Any]


# -- small formatting helpers -------------------------------------------------------------------
def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def count(value: Any) -> str:
    """1234 -> '1,234'; missing -> '?'."""
    n = _num(value)
    return "?" if n is None else f"{round(n):,}"


def compact(value: Any) -> str:
    """Follower-style numbers: 950, 12.3k, 4.1M."""
    n = _num(value)
    if n is None:
        return "?"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}".rstrip("0").rstrip(".") + unit
    return f"{round(n)}"


def sparkline(values: Any, width: int = 24) -> str:
    """A text sparkline of the last ``width`` values: ``▁▂▃▅█``. Empty input gives ''."""
    if not isinstance(values, list):
        return ""
    nums = [max(0.0, _num(v) or 0.0) for v in values][-width:]
    if not nums:
        return ""
    top = max(nums)
    if top <= 0:
        return BARS[0] * len(nums)
    return "".join(BARS[min(7, round(v / top * 7))] for v in nums)


def _source_label(source: Any) -> str:
    s = escape_inline(source)
    return {"x": "X", "rss": "the blog", "blog": "the blog", "bluesky": "Bluesky", "mastodon": "Mastodon",
            "hn": "Hacker News"}.get(s.lower(), s or "source")


def _handle(author: Any) -> str:
    if not isinstance(author, dict):
        return escape_inline(author) or "someone"
    h = escape_inline(str(author.get("handle") or "").lstrip("@"))
    name = escape_inline(author.get("name"))
    if " " in h:  # a display name where a handle belongs (blog authors): not an @handle
        h, name = "", name or h
    out = f"@{h}" if h else (name or "someone")
    return neutralise_broadcasts(f"{out} ({name})" if h and name and name != h else out)


def _mrkdwn(text: str, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    # The final neutralise pass catches broadcasts formed by joining pieces ('@' + 'here').
    return {"type": "mrkdwn", "text": truncate(neutralise_broadcasts(text), limit) or " ", "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _fields(pairs: list[tuple[str, str]]) -> Block:
    return {"type": "section", "fields": [_mrkdwn(f"*{k}*\n{v}", FIELD_LIMIT) for k, v in pairs[:10]]}


def _header(text: str) -> Block:
    plain = {"type": "plain_text", "text": truncate(text, HEADER_LIMIT), "emoji": True}
    return {"type": "header", "text": plain}


def _context(parts: list[str]) -> Block:
    return {"type": "context", "elements": [_mrkdwn(p, 1000) for p in parts if p][:10]}


def _block_chars(block: Block) -> int:
    total = 0
    for key in ("text",):
        if isinstance(block.get(key), dict):
            total += len(block[key].get("text", ""))
    for f in block.get("fields", []) + block.get("elements", []):
        total += len(f.get("text", ""))
    return total


def fit(blocks: list[Block], optional: set[int] | None = None, budget: int = BLOCKS_BUDGET) -> list[Block]:
    """Drop optional blocks (by index, last first) until the text fits ``budget``; cap at 50."""
    keep = list(enumerate(blocks))
    for idx in sorted(optional or (), reverse=True):
        if sum(_block_chars(b) for _, b in keep) <= budget:
            break
        keep = [(i, b) for i, b in keep if i != idx]
    return [b for _, b in keep][:50]


def _time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%H:%M UTC")
    if isinstance(value, str) and len(value) >= 16:
        return escape_inline(value[11:16]) + " UTC"
    return ""


# -- pieces of an alert -------------------------------------------------------------------------
def _what(d: dict[str, Any]) -> str:
    root = _dict(d.get("root"))
    author = _dict(root.get("author"))
    who = f"*{_handle(author)}*"
    if _num(author.get("followers")) is not None:
        who += f" · {compact(author.get('followers'))} followers"
    who += f" · on {_source_label(root.get('source'))}"
    lines = [who]
    if root.get("title"):
        lines.append(f"*{truncate(escape_inline(root['title']), 300)}*")
    body = truncate(escape(root.get("text") or ""), 1500)
    if body.strip():
        lines.append(quote_block(body))
    if root.get("url"):
        lines.append(link(root.get("url"), f"Open on {_source_label(root.get('source'))}"))
    elif d.get("root_id"):
        lines.append(f"root `{escape_inline(d.get('root_id'))}`")
    return "\n".join(lines)


def _why(d: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    rate = _num(d.get("rate"))
    per_hour = f" · {compact(rate)}/h" if rate is not None else ""
    pairs.append(("Reactions", count(d.get("reactions")) + per_hour))
    projected, threshold = _num(d.get("projected")), _num(d.get("threshold"))
    if projected is not None:
        ratio = f" ({projected / threshold:.1f}×)" if threshold else ""
        pairs.append(("Projected", f"~{count(projected)} vs threshold {count(threshold)}{ratio}"))
    if _num(d.get("reach")) is not None:
        pairs.append(("Reach", f"{compact(d.get('reach'))} followers"))
    channels = d.get("channels")
    if isinstance(channels, list) and channels:
        pairs.append(("Spread on", ", ".join(_source_label(c) for c in channels[:10])))
    s = d.get("sentiment")
    if isinstance(s, dict):
        mix = " · ".join(f"{count(s.get(k))} {k[:3]}" for k in ("negative", "neutral", "positive"))
        if _num(s.get("root")) is not None:
            mix += f" (root {s['root']:+.2f})"
        pairs.append(("Sentiment", mix))
    c = d.get("complaint")
    if isinstance(c, dict):
        bits = [escape_inline(c.get("category") or "complaint")]
        if c.get("specific") is True:
            bits.append("specific and actionable")
        elif c.get("specific") is False:
            bits.append("vague")
        p = _num(c.get("probability", d.get("score")))
        pairs.append(("Complaint", ", ".join(bits) + (f" (p={p:.2f})" if p is not None else "")))
    vips = d.get("vips")
    if isinstance(vips, list) and vips:
        pairs.append(("VIPs", ", ".join(f"@{escape_inline(str(v).lstrip('@'))}" for v in vips[:10])))
    if d.get("reason"):
        pairs.append(("Why now", truncate(escape_inline(d.get("reason")), 500)))
    return pairs


def _growth(d: dict[str, Any]) -> str:
    """The sparkline from the storm's first active bucket on; '' while it spans fewer than two (a
    single bar says nothing about growth: the growth in words says it instead)."""
    raw = d.get("growth")
    if not isinstance(raw, list):
        return ""
    g = [v for v in raw if _num(v) is not None][-24:]
    while g and not _num(g[0]):
        g = g[1:]
    line = sparkline(g) if len(g) >= 2 else ""
    if not line:
        return ""
    bucket = escape_inline(d.get("growth_bucket") or "bucket")
    span = f"  {count(g[0])} → {count(g[-1])}" if g else ""
    return f"*Growth* per {bucket}: `{line}`{span}"


def _reactions(items: Any, title: str, limit: int = 5) -> str:
    if not isinstance(items, list) or not items:
        return ""
    lines = [f"*{title}*"]
    for r in items[:limit]:
        if not isinstance(r, dict):
            continue
        who = _handle(r.get("author") if isinstance(r.get("author"), dict) else {"handle": r.get("author")})
        if _num(r.get("followers")) is not None:
            who += f" ({compact(r.get('followers'))})"
        kind = f"{escape_inline(r.get('kind'))}: " if r.get("kind") else ""
        text = truncate(escape_inline(r.get("text") or ""), 280)
        tail = f" {link(r.get('url'), 'open')}" if r.get("url") else ""
        lines.append(f"• {who} {kind}“{text}”{tail}")
    return "\n".join(lines) if len(lines) > 1 else ""


def _footer(d: dict[str, Any], alert_id: int | None, note: str | None, controls: Controls | None = None) -> Block:
    parts = [f"Watch-list *{escape_inline(d.get('watchlist') or '?')}*"]
    if d.get("root_id") and d.get("kind") != "source":
        parts.append(f"root `{escape_inline(d['root_id'])}`")
    c = d.get("complaint")
    if isinstance(c, dict) and isinstance(c.get("cues"), list) and c["cues"]:
        parts.append("cues: " + ", ".join(escape_inline(x) for x in c["cues"][:8]))
    if d.get("decision"):
        parts.append(f"decision `{escape_inline(d['decision'])}`")
    if alert_id is not None:
        parts.append(f"alert #{alert_id}")
    if note:
        parts.append(note)
    out = [" · ".join(parts)]
    if controls is not None:
        out += controls.context
    return _context(out)


def _with_controls(blocks: list[Block], controls: Controls | None, at: int) -> list[Block]:
    """Insert the controls' section at ``at`` (after the figures) and their buttons at the end."""
    if controls is None:
        return blocks
    if controls.lines:
        blocks.insert(at, _section("\n".join(controls.lines)))
    return blocks + [dict(b) for b in controls.blocks]


def _fallback(d: dict[str, Any], prefix: str) -> str:
    root = _dict(d.get("root"))
    text = truncate(escape_inline(root.get("text") or root.get("title") or ""), 200)
    who = _handle(root.get("author") or {})
    bits = [f"{prefix} [{escape_inline(d.get('watchlist') or '?')}]", f"{who}: “{text}”" if text else who,
            f"{count(d.get('reactions'))} reactions"]
    if _num(d.get("projected")) is not None:
        bits.append(f"projected ~{count(d.get('projected'))} vs {count(d.get('threshold'))}")
    return truncate(neutralise_broadcasts(" · ".join(bits)), FALLBACK_LIMIT)


# -- whole messages -----------------------------------------------------------------------------
def render_alert(d: dict[str, Any], *, alert_id: int | None = None, updated: str | None = None,
                 note: str | None = None, title: str | None = None, controls: Controls | None = None) -> Message:
    """The root message of a storm (also the edited root, with ``updated`` saying when)."""
    if d.get("kind") == "spike":
        return render_spike(d, alert_id=alert_id, note=note if not updated else f"updated {updated}", title=title,
                            controls=controls)
    if d.get("kind") == "source":
        return render_source(d, alert_id=alert_id)
    wl = escape_inline(d.get("watchlist") or "?")
    head = title or (":rotating_light: Complaint spreading" + (" (VIP)" if d.get("vip") else ""))
    blocks = [_header(f"{head} · {wl}"), _section(_what(d)), _fields(_why(d))]
    optional: set[int] = set()
    for extra in (_growth(d), _reactions(d.get("top_reactions"), "Top reactions")):
        if extra:
            optional.add(len(blocks))
            blocks.append(_section(extra))
    blocks.append(_footer(d, alert_id, f"updated {updated}" if updated else note, controls))
    return Message(_fallback(d, "Complaint spreading"), _fit_controls(blocks, optional, controls, 3))


def _fit_controls(blocks: list[Block], optional: set[int], controls: Controls | None, at: int) -> list[Block]:
    """``fit`` with the controls in: their section shifts the optional indexes after ``at`` by one."""
    if controls is None or not controls.lines:
        return fit(_with_controls(blocks, controls, at), optional)
    shifted = {i + 1 if i >= at else i for i in optional}
    return fit(_with_controls(blocks, controls, at), shifted)


def render_update(d: dict[str, Any], *, alert_id: int | None = None, note: str | None = None,
                  controls: Controls | None = None) -> Message:
    """A thread reply: what changed and the current figures, short."""
    name = escape_inline(d.get("decision") or "update").replace("_", " ")
    reason = f" · {truncate(escape_inline(d.get('reason')), 500)}" if d.get("reason") else ""
    lines = [f"*Update: {name}*{reason}"]
    if d.get("kind") == "spike":
        window = escape_inline(d.get("window") or "?")
        spike = (f"{count(d.get('observed'))} complaints in the last {window} "
                 f"vs baseline {count(d.get('baseline'))}")
        blocks = [_section("\n".join([*lines, spike]))]
        examples = _reactions(d.get("examples"), "Latest examples", 3)
        if examples:
            blocks.append(_section(examples))
        blocks.append(_footer(d, alert_id, note, controls))
        fallback = f"Spike update [{escape_inline(d.get('watchlist') or '?')}] · {spike}"
        return Message(truncate(fallback, FALLBACK_LIMIT), _fit_controls(blocks, {1} if examples else set(),
                                                                         controls, 1))
    figures = [f"{count(d.get('reactions'))} reactions"]
    if _num(d.get("rate")) is not None:
        figures.append(f"{compact(d.get('rate'))}/h")
    if _num(d.get("projected")) is not None:
        figures.append(f"projected ~{count(d.get('projected'))} vs {count(d.get('threshold'))}")
    if _num(d.get("reach")) is not None:
        figures.append(f"reach {compact(d.get('reach'))}")
    lines.append(" · ".join(figures))
    if isinstance(d.get("vips"), list) and d["vips"]:
        lines.append("VIPs: " + ", ".join(f"@{escape_inline(str(v).lstrip('@'))}" for v in d["vips"][:10]))
    blocks = [_section("\n".join(lines))]
    optional: set[int] = set()
    for extra in (_growth(d), _reactions(d.get("top_reactions"), "Latest top reactions", 3)):
        if extra:
            optional.add(len(blocks))
            blocks.append(_section(extra))
    blocks.append(_footer(d, alert_id, note, controls))
    return Message(_fallback(d, f"Update ({name})"), _fit_controls(blocks, optional, controls, 1))


def render_source(d: dict[str, Any], *, alert_id: int | None = None) -> Message:
    """An ops alert: a source went quiet or keeps failing, so the team may be blind to a storm."""
    title = ":mute: Source gone quiet" if d.get("decision") == "source_quiet" else ":warning: Source failing"
    reason = truncate(escape(d.get("reason") or ""), 2000)
    blocks = [_header(title), _section(reason), _footer(d, alert_id, None)]
    return Message(truncate(f"{title[title.index(' ') + 1:]}: {reason}", FALLBACK_LIMIT), fit(blocks, set()))


def render_spike(d: dict[str, Any], *, alert_id: int | None = None, note: str | None = None,
                 title: str | None = None, controls: Controls | None = None) -> Message:
    """A volume spike: complaints in the window against the baseline, top terms, examples."""
    wl = escape_inline(d.get("watchlist") or "?")
    window = escape_inline(d.get("window") or "window")
    head = f"*{count(d.get('observed'))}* complaints in the last {window}, against a baseline of " \
           f"*{count(d.get('baseline'))}*"
    if _num(d.get("mad")) is not None:
        head += f" (MAD {d['mad']:.1f})"
    lines = [head]
    if d.get("reason"):
        lines.append(truncate(escape_inline(d["reason"]), 500))
    terms = d.get("top_terms")
    if isinstance(terms, list) and terms:
        lines.append("*Top terms:* " + ", ".join(f"`{escape_inline(t)}`" for t in terms[:12]))
    head_text = title or ":chart_with_upwards_trend: Complaint spike"
    blocks = [_header(f"{head_text} · {wl}"), _section("\n".join(lines))]
    optional: set[int] = set()
    examples = _reactions(d.get("examples"), "Examples")
    if examples:
        optional.add(len(blocks))
        blocks.append(_section(examples))
    blocks.append(_footer(d, alert_id, note, controls))
    fallback = f"Complaint spike [{wl}] · {count(d.get('observed'))} complaints in {window} " \
               f"vs baseline {count(d.get('baseline'))}"
    return Message(truncate(neutralise_broadcasts(fallback), FALLBACK_LIMIT),
                   _fit_controls(blocks, optional, controls, 2))


def render_digest(p: dict[str, Any], *, alert_id: int | None = None) -> Message:
    """A morning digest of alerts held in quiet hours, or the daily digest (see quiet_hours.py)."""
    wl = escape_inline(p.get("watchlist") or "?")
    if p.get("digest") == "daily":
        return _render_daily(p, wl, alert_id)
    items = [i for i in p.get("items", []) if isinstance(i, dict)]
    intro = f"{len(items)} storm(s) stayed below the night-time severity during quiet hours " \
            f"({escape_inline(p.get('window') or '')}). Current figures:"
    lines = [intro]
    for d in items[:20]:
        lines.append(_digest_line(d))
    if len(items) > 20:
        lines.append(f"…and {len(items) - 20} more (see `monitor status`).")
    blocks = [_header(f":crescent_moon: Held overnight · {wl}"), _section("\n".join(lines)),
              _context([f"Watch-list *{wl}*" + (f" · alert #{alert_id}" if alert_id is not None else "")])]
    return Message(f"Held overnight [{wl}]: {len(items)} storm(s)", fit(blocks))


def _digest_line(d: dict[str, Any]) -> str:
    root = _dict(d.get("root"))
    text = truncate(escape_inline(root.get("text") or root.get("title") or d.get("root_id") or ""), 140)
    line = f"• *{_handle(root.get('author') or {})}*: “{text}” · {count(d.get('reactions'))} reactions"
    if d.get("kind") == "spike":
        line = f"• spike: {count(d.get('observed'))} complaints vs baseline {count(d.get('baseline'))}"
    elif _num(d.get("projected")) is not None:
        line += f", projected ~{count(d.get('projected'))}"
    if root.get("url"):
        line += " " + link(root.get("url"), "open")
    return line


def _render_daily(p: dict[str, Any], wl: str, alert_id: int | None) -> Message:
    mentions, complaints = _num(p.get("mentions")) or 0, _num(p.get("complaints")) or 0
    share = f" ({complaints / mentions:.0%})" if mentions else ""
    lines = [f"Last 24 h: *{count(mentions)}* mentions, *{count(complaints)}* complaints{share}, "
             f"{count(p.get('alerts') or 0)} storm alert(s), {count(p.get('spikes') or 0)} spike(s)."]
    s = _dict(p.get("sentiment"))
    today, before = _num(s.get("today")), _num(s.get("previous"))
    if today is not None:
        trend = ""
        if before is not None:
            trend = " → steady"
            if abs(today - before) > 0.02:
                trend = " ↑ better" if today > before else " ↓ worse"
            trend += f" (previous 24 h {before:+.2f})"
        lines.append(f"Sentiment: average {today:+.2f}{trend}")
    top = [t for t in p.get("top", []) if isinstance(t, dict)]
    if top:
        lines.append("*Top complaints*")
        lines.extend(_digest_line(t) for t in top[:5])
    blocks = [_header(f":newspaper: Daily digest · {wl}"), _section("\n".join(lines)),
              _context([f"{escape_inline(p.get('period') or '')} · watch-list *{wl}*"
                        + (f" · alert #{alert_id}" if alert_id is not None else "")])]
    fallback = f"Daily digest [{wl}]: {count(mentions)} mentions, {count(complaints)} complaints"
    return Message(fallback, fit(blocks))
