"""Cue search: only the branches a text can match are searched, and the hits are those of the full lexicon.

Real text: the X-CI complaint sample (../shared/fixtures/complaints/dev.csv; Singh et al., ACL 2023,
MIT) and VADER's rated tweets (../shared/fixtures/vader; Hutto and Gilbert, ICWSM 2014, MIT).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devkit import complaint_train as ct
from monitor.scoring.complaint import _normalise
from monitor.scoring.cues import CueSearch, full_alternation, necessary_literals, split_branches
from monitor.scoring.lexicon import LEXICON
from tests.conftest import FIXTURES


def full_hits(t: str) -> dict[str, list[tuple[str, bool]]]:
    """What the unreduced alternations find: the reference the search must agree with."""
    out = {}
    for cat, entries in LEXICON.items():
        found = [entries[int(m.lastgroup[1:])][:2] for m in full_alternation(entries).finditer(t) if m.lastgroup]
        if found:
            out[cat] = found
    return out


@pytest.fixture(scope="module")
def search() -> CueSearch:
    return CueSearch(LEXICON)


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not beside the repo")
    fixtures = FIXTURES
    texts = [r.text for r in ct.read_rows(fixtures / "complaints" / "dev.csv")]
    for line in (fixtures / "vader" / "tweets_GroundTruth.txt").read_text("utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            texts.append(parts[2])
    return texts


def test_every_labelled_complaint_and_rated_tweet_gets_the_very_hits_of_the_full_lexicon(
        search: CueSearch, real_texts: list[str]) -> None:
    assert len(real_texts) > 5000
    with_hits = 0
    for text in real_texts:
        t = _normalise(text, placeholders=False)
        expected = full_hits(t)
        assert search.hits(t) == expected, text
        with_hits += bool(expected)
    assert with_hits > 1000  # the comparison is not between two empty results


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    "cancel", "cancelled", "refund", "not", "working", "is", "down", "site", "again", "still", "waiting",
    "on hold", "charged twice", "my", "order", "never", "arrived", "no", "reply", "$", "40", "5 days",
    ":(", ":)", "thanks", "great", "wrong", "item", "rude", "staff", "\U0001f621", "got my refund", "x",
]), max_size=14))
def test_any_mix_of_cue_words_gets_the_hits_of_the_full_lexicon(search: CueSearch, words: list[str]) -> None:
    t = " ".join(words)
    assert search.hits(t) == full_hits(t)


def test_a_text_with_no_cue_word_searches_no_category_but_those_that_may_match_anything(search: CueSearch) -> None:
    assert search.hits("lorem ipsum") == {}


@pytest.mark.parametrize(("rx", "literals"), [
    (r"\bcancel\w*", {"cancel"}),
    (r"\b(?:is|are|was) (?:\w+ )?down\b", {"down"}),
    (r"\bno (?:response|update)\b", {"response", "update"}),  # one of the alternatives
    (r"\bno (?:response|reply)\b", {"no re"}),                 # the parser factors out their common "re"
    (r"(?<!got my )\brefund\w*", {"refund"}),   # a lookbehind's text need not be there
    (r"\bminutes?\b", {"minute"}),              # an optional letter is not needed
    (r"(?:\w+ )?slow", {"slow"}),
    (r"[$\u00a3]\s?\d", {"$", "\u00a3"}),         # a class of plain characters needs one of them
    (r"[0-9]+ days", {" days"}),                # a range is passed over
    (r"[^a-z]", None),                          # so is a negated class: no literal is needed, the branch stays
    (r"[a-z$]x?", None),                        # and a class with a range in it
    (r"(?i:refund)", None),                     # case-insensitive text could be written any way
])
def test_a_branch_needs_one_of_its_literals(rx: str, literals: set[str] | None) -> None:
    assert necessary_literals(rx) == (None if literals is None else frozenset(literals))


def test_branches_split_at_the_top_level_only() -> None:
    assert split_branches(r"a|(b|c)|[|]|\||d") == ["a", "(b|c)", "[|]", r"\|", "d"]
    for entries in LEXICON.values():
        for _, _, rx in entries:
            branches = split_branches(rx)
            assert "|".join(branches) == rx
            for b in branches:
                re.compile(b)  # each branch is a whole regex of its own
