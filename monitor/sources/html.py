"""HTML reduced to readable plain text, and the links it holds.

Feed content arrives as (already sanitised) HTML. Matching and scoring read plain text, so tags go,
entities are decoded, block elements become line breaks, and script/style bodies are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

_BLOCK = {
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
}
_SKIP = {"script", "style", "noscript", "template", "head", "title"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


class _Reducer(HTMLParser):
    def __init__(self, base: str | None):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self._link(href)
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._skip:
                self.parts.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def _link(self, href: str) -> None:
        url = urljoin(self.base, href.strip()) if self.base else href.strip()
        if urlsplit(url).scheme in ("http", "https") and url not in self.links:
            self.links.append(url)


def html_to_text(html: str, base: str | None = None) -> tuple[str, list[str]]:
    """Plain text of ``html`` and the http(s) links of its ``<a href>``s (resolved against ``base``).

    Never raises on malformed markup: what can be read is returned.
    """
    if not html:
        return "", []
    reducer = _Reducer(base)
    try:
        reducer.feed(html)
        reducer.close()
    except Exception:  # html.parser is lenient, but a reducer must never take a poll down
        pass
    return tidy("".join(reducer.parts)), reducer.links


def tidy(text: str) -> str:
    """Collapse runs of spaces, trim each line, keep at most one blank line between paragraphs."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def detail_to_text(value: str, content_type: str | None, base: str | None = None) -> tuple[str, list[str]]:
    """A feedparser text construct (``title_detail``, ``content[i]``, ...) as plain text and links."""
    kind = (content_type or "").lower()
    if "html" in kind or "xml" in kind:
        return html_to_text(value, base)
    return tidy(value), []
