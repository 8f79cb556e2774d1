"""Untrusted text stays text: mrkdwn escaping, broadcast neutralising, safe links, safe cuts.

Slack parses ``&``, ``<`` and ``>`` as control characters in mrkdwn (``<!channel>``, ``<@U123>``,
``<#C1>``, ``<https://x|label>``), so every string that came from outside (a tweet, a handle, a
blog title, a URL) is escaped as ``&amp;`` ``&lt;`` ``&gt;``, in that order. slack-sdk has no helper
for this. Bare ``@channel``, ``@here`` and ``@everyone`` are not parsed when we post (no
``link_names``, ``verbatim`` text objects), but we also swap their ``@`` for a full-width ``＠`` so the
words stay inert even if a client or a future default parses them.

``truncate`` cuts an escaped string without splitting an entity (``&am…``) or one of our own links.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

ELLIPSIS = "…"
FULLWIDTH_AT = "\uff20"

_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone))", re.IGNORECASE)
# C0/C1 controls except tab and newline, and the bidi overrides/isolates that can make text
# display in an order other than the one it is stored in.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")
_URL_SAFE = ":/?#[]!$&'()*+,;=%-._~"


def neutralise_broadcasts(text: str) -> str:
    """Replace the ``@`` of @channel / @here / @everyone (any case) with a full-width ``＠``."""
    return _BROADCAST.sub(FULLWIDTH_AT, text)


def escape(text: object) -> str:
    """Make outside text safe for a mrkdwn field: ``&`` ``<`` ``>`` escaped (``&`` first),
    controls and bidi overrides dropped, broadcast mentions neutralised. ``None`` gives ``""``."""
    if text is None:
        return ""
    s = _CONTROL.sub("", str(text).replace("\r\n", "\n").replace("\r", "\n"))
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return neutralise_broadcasts(s)


def escape_inline(text: object) -> str:
    """Like ``escape`` but on one line: newlines and tabs become spaces (names, titles, terms)."""
    return re.sub(r"\s+", " ", escape(text)).strip()


def unescape(text: str) -> str:
    """The inverse of the entity part of ``escape`` (for tests and for measuring visible length)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def truncate(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with ``ellipsis`` when cut.

    Never ends inside an ``&amp;``/``&lt;``/``&gt;`` entity or inside a ``<...>`` link we built, so
    a cut can neither show half an entity nor turn escaped text back into markup.
    """
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if len(ellipsis) >= limit:
        ellipsis = ""
    cut = text[: limit - len(ellipsis)]
    m = _ENTITY_TAIL.search(cut)
    if m:
        cut = cut[: m.start()]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    return cut + ellipsis


def safe_url(url: object) -> str | None:
    """An http(s) URL made safe inside ``<url|label>``: no ``|``, ``<``, ``>``, ``@``, spaces or
    user:password part, ``&`` escaped. Anything else (``javascript:``, ``slack://``, junk) gives None."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        parts = urlsplit(_CONTROL.sub("", url.strip()))
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    netloc = quote(host, safe=".-[]:") + (f":{port}" if port else "")
    rebuilt = urlunsplit((
        parts.scheme.lower(), netloc, quote(parts.path, safe=_URL_SAFE),
        quote(parts.query, safe=_URL_SAFE), quote(parts.fragment, safe=_URL_SAFE),
    ))
    return rebuilt.replace("&", "&amp;")


def link(url: object, label: str) -> str:
    """``<url|label>`` when the URL is a safe http(s) one, else just the label.

    ``label`` must already be mrkdwn-safe (our words, or outside text passed through ``escape``).
    """
    target = safe_url(url)
    text = re.sub(r"\s+", " ", label).strip().replace("<", "&lt;").replace(">", "&gt;") or "link"
    return f"<{target}|{text}>" if target else text


def quote_block(text: str) -> str:
    """Prefix every line of already-escaped text with ``>`` so Slack shows it as a quotation."""
    return "\n".join(f">{line}" if line else ">" for line in text.split("\n"))
