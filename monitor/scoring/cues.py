"""The cue lexicon, compiled: which cues a normalised text hits, searched only where they can match.

Each category of ``monitor.scoring.lexicon`` is one alternation of named groups (one group a cue). Python's
regex engine tries every alternative at every position of the text, so searching 17 alternations of
some 360 branches would be the costliest part of scoring a text. Most branches cannot match a given text at all:
each needs some literal ("refund", "on hold", one of "is"/"are"/... and " down") that the text does
not contain. So every branch carries such a necessary set of literals, worked out once from its
parsed form; one Aho-Corasick pass (pyahocorasick, a C automaton: testing each of some 500 literals
with ``in`` would give back what the narrower search saves) finds the literals a text holds, and the text is
searched with an alternation of only the branches those make possible.

Dropping a branch that cannot match anywhere in the text changes no match: at each position an
alternation takes its first alternative that matches, and the dropped one never does. The hits are
the very ones of the full alternation, in the same order (tests/test_cues.py checks this on every
labelled complaint).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# The stdlib's own regex parser (sre_parse until 3.11, when it moved here); tests/test_cues.py checks the
# literals it yields against the whole lexicon, so a change in its output shows there.
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

import ahocorasick

from monitor.scoring.lexicon import LEXICON

Hit = tuple[str, bool]  # (label, strong)
COMPILED = 1024  # reduced alternations kept compiled, about 2 KB each (5,283 real texts need 812)


def split_branches(rx: str) -> list[str]:
    """The top-level alternatives of a regex source ("a|(b|c)|d" -> ["a", "(b|c)", "d"])."""
    out, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(rx):
        ch = rx[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(rx[start:i])
            start = i + 1
        i += 1
    out.append(rx[start:])
    return out


def necessary_literals(rx: str) -> frozenset[str] | None:
    """Literals one of which every match of ``rx`` contains; None when no such set is found.

    Conservative: only literal runs, classes of plain characters, required groups and alternations
    whose every alternative has such a set, and repeats of at least one count; lookarounds, other
    classes and optional parts are passed over.
    Of the sets found, the one whose shortest literal is longest is taken (the most selective).
    """
    return _need(_sre_parse.parse(rx).data)


def _need(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    run: list[str] = []

    def consider(cands: frozenset[str] | None) -> None:
        nonlocal best
        if cands and (best is None or _selectivity(cands) > _selectivity(best)):
            best = cands

    for op, av in items:
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            consider(frozenset({"".join(run)}))
            run = []
        if op is _sre.SUBPATTERN:
            _group, add_flags, _del_flags, sub = av
            if not add_flags & re.IGNORECASE:
                consider(_need(sub.data))
        elif op is _sre.BRANCH:
            alts = [_need(b.data) for b in av[1]]
            if all(alts):
                consider(frozenset(lit for alt in alts if alt for lit in alt))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and av[0] >= 1:
            consider(_need(av[2].data))
        elif op is _sre.IN and av and all(o is _sre.LITERAL for o, _ in av):  # [$£€]: one of its characters
            consider(frozenset(chr(c) for _, c in av))
    if run:
        consider(frozenset({"".join(run)}))
    return best


def _selectivity(cands: frozenset[str]) -> tuple[int, int]:
    return min(map(len, cands)), -len(cands)


@dataclass(frozen=True, slots=True)
class _Branch:
    entry: int                    # index of its cue in the category
    source: str
    needs: frozenset[str] | None  # None: it may match any text


class CueSearch:
    """Finds the cues of ``lexicon`` (category -> [(label, strong, regex)]) in normalised text."""

    def __init__(self, lexicon: dict[str, list[tuple[str, bool, str]]] = LEXICON):
        self.lexicon = lexicon
        self._cats = list(lexicon)
        self._branches = [tuple(_Branch(i, b, necessary_literals(b))
                                for i, (_, _, rx) in enumerate(lexicon[cat]) for b in split_branches(rx))
                          for cat in self._cats]
        # Branches as bits of one mask per category: those that may match any text, and those each
        # literal makes possible. One Aho-Corasick pass finds every literal in a text (overlaps too).
        self._always = [sum(1 << k for k, b in enumerate(bs) if b.needs is None) for bs in self._branches]
        enables: dict[str, dict[int, int]] = {}
        for ci, bs in enumerate(self._branches):
            for k, b in enumerate(bs):
                for lit in b.needs or ():
                    masks = enables.setdefault(lit, {})
                    masks[ci] = masks.get(ci, 0) | 1 << k
        self._finder = ahocorasick.Automaton()
        for lit, masks in enables.items():
            self._finder.add_word(lit, tuple(masks.items()))
        self._finder.make_automaton()
        self._compiled = functools.lru_cache(maxsize=COMPILED)(self._compile)

    def hits(self, t: str) -> dict[str, list[Hit]]:
        """Category -> [(label, strong), ...] of the cues found in ``t``, in reading order."""
        live = list(self._always)
        for _end, masks in self._finder.iter(t):
            for ci, mask in masks:
                live[ci] |= mask
        out: dict[str, list[Hit]] = {}
        for ci, mask in enumerate(live):
            if not mask:
                continue
            cat = self._cats[ci]
            entries = self.lexicon[cat]
            found = [entries[int(m.lastgroup[1:])][:2] for m in self._compiled(ci, mask).finditer(t) if m.lastgroup]
            if found:
                out[cat] = found
        return out

    def _compile(self, ci: int, mask: int) -> re.Pattern[str]:
        """One alternation of the branches of category ``ci`` in ``mask``, a named group per cue, in
        lexicon order."""
        by_entry: dict[int, list[str]] = {}
        for k, b in enumerate(self._branches[ci]):
            if mask >> k & 1:
                by_entry.setdefault(b.entry, []).append(b.source)
        return re.compile("|".join(f"(?P<c{i}>{'|'.join(srcs)})" for i, srcs in by_entry.items()))


def full_alternation(entries: list[tuple[str, bool, str]]) -> re.Pattern[str]:
    """A category's whole alternation, unreduced: what ``CueSearch`` must agree with."""
    return re.compile("|".join(f"(?P<c{i}>{rx})" for i, (_, _, rx) in enumerate(entries)))
