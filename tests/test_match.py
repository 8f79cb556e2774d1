"""Matching: whole words, handles, hashtags, phrases and exclusions, case-insensitive and Unicode-aware."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from monitor.cascades.match import Matcher, normalise
from monitor.config.settings import Watchlist


def matcher(**kw) -> Matcher:
    return Matcher([Watchlist(name="acme", **{"terms": ["acme"], **kw})])


@pytest.mark.parametrize("text", [
    "Acme's router died", "#acme is down", "@acme help", "ACME!!!", "i hate acme.", "(acme)",
    "ＡＣＭＥ broke again", "Ünïcode text about acme, ok",
])
def test_a_term_matches_whole_words_handles_and_hashtags(text: str) -> None:
    assert matcher().watchlists_for(text) == ("acme",)


@pytest.mark.parametrize("text", ["acmeville is nice", "@acme_support", "#acmefail", "pacme", "acme2000"])
def test_a_term_never_matches_inside_another_word(text: str) -> None:
    assert matcher().watchlists_for(text) == ()


def test_a_handle_term_matches_only_that_handle() -> None:
    m = matcher(terms=["@acme"])
    assert m.watchlists_for("thanks @ACME") == ("acme",)
    assert m.watchlists_for("acme is fine") == ()
    assert m.watchlists_for("mail me at bob@acme.com") == ()


def test_a_hashtag_term_matches_that_hashtag() -> None:
    m = matcher(terms=["#acmefail"])
    assert m.watchlists_for("another #AcmeFail today") == ("acme",)
    assert m.watchlists_for("acmefail") == ()


def test_a_quoted_phrase_matches_its_words_in_order() -> None:
    m = matcher(terms=['"acme broadband"'])
    assert m.watchlists_for("ACME   Broadband is down") == ("acme",)
    assert m.watchlists_for("broadband from acme") == ()


def test_an_exclusion_drops_the_mention() -> None:
    m = matcher(terms=["acme"], exclude=["acme anvil"])
    assert m.watchlists_for("the Acme anvil fell on the coyote") == ()
    assert m.watchlists_for("acme broke my router") == ("acme",)


def test_explain_says_which_terms_matched() -> None:
    m = Matcher([Watchlist(name="acme", terms=["acme", "#acmefail"]), Watchlist(name="globex", terms=["globex"])])
    assert m.explain("#acmefail again") == {"acme": ["#acmefail"]}


words = st.text(alphabet=st.characters(categories=["Ll", "Lu"]), min_size=3, max_size=12)
separators = st.text(alphabet=" .,;:!?()\"'\n#@", min_size=1, max_size=3)


@given(term=words, before=st.text(max_size=30), after=st.text(max_size=30), sep1=separators, sep2=separators)
def test_a_term_surrounded_by_non_word_characters_always_matches(term, before, after, sep1, sep2) -> None:
    # Where Unicode makes the upper case a different letter (Turkish dotless ı -> I -> i), the two
    # are not the same word under case folding, and need not match.
    assume(normalise(term.upper()) == normalise(term))
    text = f"{before}{sep1}{term.upper()}{sep2}{after}"
    assert matcher(terms=[term]).watchlists_for(text) == ("acme",)


@given(term=words, prefix=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=5))
def test_a_term_glued_to_word_characters_never_matches(term: str, prefix: str) -> None:
    assert matcher(terms=[term]).watchlists_for(f"{prefix}{term} and {term}{prefix}") == ()


TERMS = ["acme", "acme router", "@acme", "#acme", '"acme support"', "globex", "hooli", "Ｈｏｏｌｉ phone", "ünï"]
TEXT_WORDS = ["acme", "Acme", "ACME", "@acme", "#acme", "router", "support", "globex", "hooli", "phone",
              "ＨＯＯＬＩ", "Ünï", "acmeville", "the", "is", "down"]


@given(lists=st.lists(st.tuples(st.lists(st.sampled_from(TERMS), min_size=1, max_size=3),
                                st.lists(st.sampled_from(TERMS), max_size=1)), min_size=1, max_size=4),
       words=st.lists(st.sampled_from(TEXT_WORDS), max_size=8), seps=st.sampled_from([" ", "  ", "\n", ", "]))
def test_the_word_prefilter_never_changes_which_watch_lists_match(lists, words, seps) -> None:
    # Watch-lists sharing words between their terms and exclusions: the answer is always that of
    # searching every watch-list's own patterns.
    m = Matcher([Watchlist(name=f"w{i}", terms=terms, exclude=exclude) for i, (terms, exclude) in enumerate(lists)])
    text = seps.join(words)
    norm = normalise(text)
    expected = tuple(w.name for w in m.watchlists if w.include is not None and w.include.search(norm)
                     and not (w.exclude is not None and w.exclude.search(norm)))
    assert m.watchlists_for(text) == expected
