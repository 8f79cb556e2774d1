"""Watch-list terms -> does this mention belong to us.

Matching is case-insensitive and Unicode-aware (NFKC, then casefold: "ＡＣＭＥ" and "Acme" are the
same word) and works on whole words: ``acme`` matches "Acme's", "#acme" and "@acme", never
"acmeville" or "@acme_support". A term written with a leading ``@`` or ``#`` matches only that
handle or hashtag. A term of several words (or a "quoted phrase") matches those words in order,
with any whitespace between them. An exclusion that matches drops the mention, the same meaning
as ``-"..."`` in the X query built from the same watch-list.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from monitor.config.settings import Watchlist


def normalise(text: str) -> str:
    """The form both terms and text are compared in."""
    return unicodedata.normalize("NFKC", text).casefold()


def term_pattern(term: str) -> str:
    """A regex for one term, with whole-word boundaries."""
    term = normalise(term.strip())
    if len(term) >= 2 and term[0] == term[-1] == '"':
        term = term[1:-1].strip()
    words = term.split()
    body = r"\s+".join(re.escape(w) for w in words)
    # A bare word may be written as a handle or hashtag in the text ("#acme" is about acme); an
    # explicit "@acme" term must not match inside "foo@acme.com" or "@@acme".
    left = r"(?<![\w@#])" if term[:1] in "@#" else r"(?<!\w)"
    return f"{left}{body}(?!\\w)"


def anchor_word(term: str) -> str:
    """The longest word of a term, as its pattern matches it: no text matches the term without it."""
    term = normalise(term.strip())
    if len(term) >= 2 and term[0] == term[-1] == '"':
        term = term[1:-1].strip()
    return max(term.split(), key=len, default="")


def _compile(terms: Iterable[str]) -> re.Pattern[str] | None:
    patterns = [f"(?P<t{i}>{term_pattern(t)})" for i, t in enumerate(terms) if t.strip()]
    return re.compile("|".join(patterns)) if patterns else None


@dataclass(frozen=True)
class WatchlistMatcher:
    name: str
    terms: tuple[str, ...]
    include: re.Pattern[str] | None
    exclude: re.Pattern[str] | None

    @classmethod
    def from_watchlist(cls, wl: Watchlist) -> WatchlistMatcher:
        return cls(wl.name, tuple(wl.terms), _compile(wl.terms), _compile(wl.exclude))

    def matched_terms(self, normalised_text: str) -> list[str]:
        """Terms found in already-normalised text; empty when none is, or an exclusion matches."""
        if self.include is None:
            return []
        found = {m.lastgroup for m in self.include.finditer(normalised_text) if m.lastgroup}
        if not found or (self.exclude is not None and self.exclude.search(normalised_text)):
            return []
        return [self.terms[int(g[1:])] for g in sorted(found, key=lambda g: int(g[1:]))]


class Matcher:
    """Every watch-list's terms, compiled once.

    A term cannot match where its longest word is absent, so one Aho-Corasick pass over the text for
    those words names the few watch-lists worth searching, and running every watch-list's regexes on
    every text costs far more than that pass.
    """

    def __init__(self, watchlists: Iterable[Watchlist]):
        self.watchlists = [WatchlistMatcher.from_watchlist(w) for w in watchlists]
        by_word: dict[str, frozenset[int]] = {}
        self._always: frozenset[int] = frozenset()  # watch-lists with a term of no word (it matches anywhere)
        for i, w in enumerate(self.watchlists):
            for t in w.terms:
                if not t.strip():
                    continue
                word = anchor_word(t)
                if word:
                    by_word[word] = by_word.get(word, frozenset()) | {i}
                else:
                    self._always |= {i}
        self._anchors = ahocorasick.Automaton()
        for word, lists in by_word.items():
            self._anchors.add_word(word, lists)
        if by_word:
            self._anchors.make_automaton()

    def watchlists_for(self, text: str) -> tuple[str, ...]:
        """Names of the watch-lists this text belongs to, in config order."""
        norm = normalise(text)
        candidates = set(self._always)
        if len(self._anchors):
            for _, found in self._anchors.iter(norm):
                candidates |= found
        if not candidates:
            return ()
        return tuple(w.name for i, w in enumerate(self.watchlists) if i in candidates and w.include is not None
                     and w.include.search(norm) and not (w.exclude is not None and w.exclude.search(norm)))

    def explain(self, text: str) -> dict[str, list[str]]:
        """Which terms of which watch-list matched: for ``monitor score`` and debugging."""
        norm = normalise(text)
        out = {}
        for w in self.watchlists:
            terms = w.matched_terms(norm)
            if terms:
                out[w.name] = terms
        return out
