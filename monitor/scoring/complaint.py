"""Complaint score for a brand mention: is it a complaint, is it actionable, and why.

VADER alone misses service failures ("I bought this and it doesn't work" scores 0.0), so this adds a
small logistic regression over word n-grams, a hand-written cue lexicon (failure, refusal, no
response, billing, cancellation, delivery, repair, rudeness, outage, venting), a few shape features
and the VADER compound score. Weights ship as JSON (``monitor/scoring/data/complaint_model.json``);
inference is pure Python plus vaderSentiment.

Trained on the development part of the X-CI complaint sample (Singh et al., ACL 2023, MIT licence,
github.com/appy1608/ACL2023), which extends the complaints corpus of Preotiuc-Pietro, Gaman and
Aletras, "Automatically Identifying Complaints in Social Media", ACL 2019, and measured on a part
of it held out of every choice. Training lives in
``devkit.complaint_train``; the method and the measured figures are in docs/complaint.md.
"""

from __future__ import annotations

import html
import json
import math
import operator
import re
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import Any

from monitor.records.scores import ComplaintScore
from monitor.scoring.cues import CueSearch, necessary_literals
from monitor.scoring.lexicon import CATEGORIES, LEXICON

_CUES = CueSearch(LEXICON)
_COMPLAINT_CATS = tuple(c for c in CATEGORIES if c != "other")
_CATEGORY_ORDER = tuple(c for c in LEXICON if c in _COMPLAINT_CATS)  # the more specific categories first

_URL = re.compile(r"https?://\S+|www\.\S+|pic\.twitter\.com/\S+", re.I)
_HANDLE = re.compile(r"@\w+")
_SUPPORT_HANDLE = re.compile(r"@\w*(?:support|help|care|cares|service|svc|ask)", re.I)
# Each rule with the literals one of which every match holds (None: none found): a text with none
# of them skips its search, as the cue search does.
_NEGATION = [(necessary_literals(p), re.compile(p), r) for p, r in (
    (r"\b(can ?not|can'?t)\b", "cannot"), (r"\b(won'?t)\b", "will not"), (r"\bain'?t\b", "is not"),
    (r"\b(do|does|did|is|are|was|were|have|has|had|could|would|should|must)(?:n'?t)\b", r"\1 not"),
)]
_TOKEN = re.compile(r"<\w+>|[a-z][a-z0-9']*|[!?]")
_REFERENCE = re.compile(
    r"\b(?:order|ticket|case|ref|reference|booking|account|acct|pnr|complaint|tracking|claim|invoice|"
    r"flight|incident)\s*(?:no\.?|number|num|id|#)?\s*[:#]?\s*[a-z]{0,3}-?\d[\w-]{2,}|#\d{4,}|\b\d{6,}\b", re.I)
# An amount or a date: alternatives with a digit, and spelled-out ones (lower case). Scoring tests
# them apart (``_has_quantity``): most texts have no digit, and the spelled-out ones need one of a
# few words, so the case-insensitive search over the whole alternation (several times the rest of
# the shape features) is run only to quote the evidence of a complaint.
_QUANTITY_DIGITS = (
    r"[$\u00a3\u20ac]\s?\d[\d,]*(?:\.\d+)?|"
    r"\b\d+(?:[.,]\d+)? ?(?:dollars|pounds|euros|rs|rupees|hours?|hrs?|days?|weeks?|"
    r"months?|mins?|minutes?|times|calls|emails|messages|attempts|tries)\b|\bday \d+\b|"
    r"\b\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?\b")
_QUANTITY_WORDS = (r"\b(?:two|three|four|five|six|several|multiple) (?:hours|days|weeks|months|times)\b|"
                   r"\b(?:on|since|last) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")
_QUANTITY_NEEDS = necessary_literals(_QUANTITY_WORDS) or ("",)  # a spelled-out quantity holds one of these
_QUANTITY = re.compile(f"{_QUANTITY_DIGITS}|{_QUANTITY_WORDS}", re.I)
_QUANTITY_DIGIT = re.compile(_QUANTITY_DIGITS, re.I)
_QUANTITY_WORD = re.compile(_QUANTITY_WORDS)
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_DIGIT = re.compile(r"\d")
_SHOUTING = re.compile(r"\b[A-Z]{3,}\b")
_FIRST_PERSON = re.compile(r"\b(?:i|my|me|i'm|i've|we|our|us)\b")
_EVIDENCE = {  # what makes a complaint actionable besides a concrete problem cue, in display order
    "reference": _REFERENCE,
    "amount/date": _QUANTITY,
}
_SHAPE_NAMES = {
    "s:starts_with_handle": "addressed to an account", "s:support_handle": "addressed to a support account",
    "s:url": "has a link", "s:question": "a question", "s:exclamation": "exclamation",
    "s:shouting": "shouting (caps)", "s:reference": "reference number", "s:quantity": "number/date/amount",
    "s:first_person": "first person", "s:handles": "accounts addressed", "s:no_handle": "no account addressed",
}
MAX_CUES = 8


def _normalise(text: str, placeholders: bool) -> str:
    """Lower-cased, entities decoded, negations spelled out ("doesnt" -> "does not"); handles and URLs
    become <user>/<url> (``placeholders``) or vanish, so a brand name is never a feature."""
    return _normalise_decoded(_decoded(html.unescape(text)), placeholders)


def _decoded(unescaped: str) -> str:
    return unescaped.replace("\u2019", "'").replace("\u2018", "'")


def _without_placeholders(decoded: str, normalised: str) -> str:
    """``_normalise(text, placeholders=False)`` from ``decoded`` (``_decoded`` of the text) and
    ``normalised`` (its ``_normalise_decoded`` with placeholders), without normalising twice.

    Each placeholder is a token of its own (spaces either side), and no negation rule can match across
    one (a handle ends before a letter, a URL before a space), so dropping the placeholder tokens
    gives the very same string, unless the text itself held a "<" that could spell one."""
    if "<" in decoded:
        return _normalise_decoded(decoded, placeholders=False)
    return " ".join(w for w in normalised.split(" ") if w != "<url>" and w != "<user>")


def _normalise_decoded(t: str, placeholders: bool) -> str:
    t = _URL.sub(" <url> " if placeholders else " ", t)
    t = _HANDLE.sub(" <user> " if placeholders else " ", t).lower()
    for needs, rx, repl in _NEGATION:
        if needs is None or any(n in t for n in needs):
            t = rx.sub(repl, t)
    return " ".join(t.split())  # removed handles must not break multi-word cues ("is @acme down")


def _has_quantity(text: str) -> bool:
    """Whether ``_QUANTITY`` finds an amount or a date in ``text``, several times faster."""
    if _DIGIT.search(text) and _QUANTITY_DIGIT.search(text):
        return True
    low = text.lower()
    return any(w in low for w in _QUANTITY_NEEDS) and _QUANTITY_WORD.search(low) is not None


def cue_hits(text: str) -> dict[str, list[tuple[str, bool]]]:
    """Lexicon cues found in ``text``: group -> [(label, strong), ...] in reading order."""
    return _cue_hits_normalised(_normalise(text, placeholders=False))


def _cue_hits_normalised(t: str) -> dict[str, list[tuple[str, bool]]]:
    return _CUES.hits(t)


def analyse(text: str, compound: float, ngrams: bool = True) -> tuple[dict[str, float],
                                                                     dict[str, list[tuple[str, bool]]]]:
    """(features, cue hits) of one text; ``compound`` is its VADER compound score.

    Word uni/bigrams share one L2-normalised block (numbers become <num>); cue counts, sentiment and
    shape features are scaled to 0..1. Without ``ngrams`` the n-gram block is left out (a model with
    no n-gram weights need not pay for it); every other feature is the same.
    """
    raw = html.unescape(text)
    decoded = _decoded(raw)
    normalised = _normalise_decoded(decoded, placeholders=True)
    t = _NUMBER.sub(" <num> ", normalised)
    f: dict[str, float] = {}
    if ngrams:
        toks = _TOKEN.findall(t)
        seq = ["<s>", *toks, "</s>"]
        grams = {"w:" + w for w in toks} | {f"b:{a} {b}" for a, b in zip(seq, seq[1:], strict=False)}
        f = dict.fromkeys(grams, 1.0 / math.sqrt(len(grams)))
    hits = _cue_hits_normalised(_without_placeholders(decoded, normalised))
    # Per-cue indicators overfit (measured); per-group counts and the strong/weak totals do not.
    strong = weak = cats = 0
    for cat, found in hits.items():
        f["cat:" + cat] = min(len(found), 3) / 3
        if cat in _COMPLAINT_CATS:
            cats += 1
            n_strong = sum(1 for _, is_strong in found if is_strong)
            strong += n_strong
            weak += len(found) - n_strong
    for name, n in (("agg:strong", strong), ("agg:weak", weak), ("agg:categories", cats)):
        if n:
            f[name] = min(n, 3) / 3
    if compound:
        f["v:neg" if compound < 0 else "v:pos"] = abs(compound)
    bare = _HANDLE.sub(" ", _URL.sub(" ", raw))
    shape = {
        "s:starts_with_handle": raw.lstrip().startswith("@"),
        "s:support_handle": bool(_SUPPORT_HANDLE.search(raw)),
        "s:url": bool(_URL.search(raw)),
        "s:question": "?" in raw,
        "s:exclamation": "!" in raw,
        "s:shouting": bool(_SHOUTING.search(bare)),
        # Every alternative of _REFERENCE needs a digit: most texts have none and skip its long search.
        "s:reference": bool(_DIGIT.search(bare) and _REFERENCE.search(bare)),
        "s:quantity": _has_quantity(bare),
        "s:first_person": bool(_FIRST_PERSON.search(t)),
    }
    f.update({k: 1.0 for k, on in shape.items() if on})
    handles = len(_HANDLE.findall(raw))  # how many accounts are addressed says much about who talks to whom
    f["s:handles" if handles else "s:no_handle"] = min(handles, 4) / 4 if handles else 1.0
    return f, hits


def features(text: str, compound: float, ngrams: bool = True) -> dict[str, float]:
    """The model's features for one text (see ``analyse``)."""
    return analyse(text, compound, ngrams)[0]


def uses_ngrams(model: dict[str, Any]) -> bool:
    """Whether any part of ``model`` weighs a word n-gram."""
    return any(name.startswith(("w:", "b:")) for part in model.values() if isinstance(part, dict)
               for name in part.get("weights", ()))


def linear_probability(f: dict[str, float], part: dict[str, Any]) -> float:
    """sigmoid(bias + w.x) for one part of a model dict ({"bias": b, "weights": {name: w}})."""
    # map() keeps the loop in C (this runs for every scored text); the sum is taken in the same order.
    z = part["bias"] + sum(map(operator.mul, map(part["weights"].get, f, repeat(0.0)), f.values()))
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def probability(model: dict[str, Any], f: dict[str, float]) -> float:
    """P(complaint) ~ P(customer talk) * P(complaint | customer talk).

    The first factor is floored at the model's "talk_floor": the text of a brand mention alone often
    cannot show it is addressed to a company ("acme sucks"), and the floor keeps such complaints in
    reach. It is 1 when the model has no "customer_talk" part.
    """
    talk = model.get("customer_talk")
    if not talk:
        return linear_probability(f, model["complaint"])
    floor = model.get("talk_floor", 0.0)
    return (floor + (1.0 - floor) * linear_probability(f, talk)) * linear_probability(f, model["complaint"])


class ComplaintClassifier:
    """A loaded complaint model. Scoring only reads it, so one instance can serve many threads."""

    def __init__(self, model: dict[str, Any]):
        if model.get("format") != 1 or "complaint" not in model or "threshold" not in model:
            raise ValueError("not a complaint model (format 1): retrain with bench/train_complaint.py --write")
        self.model = model
        self.threshold = float(model["threshold"])
        self._ngrams = uses_ngrams(model)
        self._vader: Any = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> ComplaintClassifier:
        """The model at ``path``, or the one shipped in monitor/scoring/data. Raises OSError or ValueError."""
        if path is None:
            text = resources.files("monitor.scoring").joinpath("data/complaint_model.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return cls(json.loads(text))

    def _compound(self, text: str) -> float:
        if self._vader is None:  # built lazily: callers that pass the sentiment never pay for it
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._vader = SentimentIntensityAnalyzer()
        return float(self._vader.polarity_scores(text)["compound"])

    def score(self, text: str, sentiment: float | None = None, *, explain: bool = True) -> ComplaintScore:
        """Score one mention. ``sentiment`` is its VADER compound if the caller already has it; without
        ``explain`` the cues are left empty (they cost as much as the rest of the score)."""
        compound = self._compound(text) if sentiment is None else sentiment
        f, hits = analyse(text, compound, self._ngrams)
        p = probability(self.model, f)
        is_complaint = p >= self.threshold
        category, specific, evidence = None, False, []
        if is_complaint:
            category = _category(hits)
            bare = _HANDLE.sub(" ", _URL.sub(" ", html.unescape(text)))
            evidence = [f"{name}:{m.group(0).strip()}" for name, rx in _EVIDENCE.items() if (m := rx.search(bare))]
            strong = any(s for c in _COMPLAINT_CATS for _, s in hits.get(c, ()))
            specific = strong or bool(evidence)
        cues = (self._cues(f, hits, compound, is_complaint)[: MAX_CUES - len(evidence)] if explain else []) + evidence
        return ComplaintScore(round(p, 4), is_complaint, specific, category, tuple(cues))

    def explain(self, text: str, sentiment: float | None = None) -> list[tuple[str, float]]:
        """Every feature's contribution (weight * value) to the complaint logit, largest magnitude first."""
        compound = self._compound(text) if sentiment is None else sentiment
        w = self.model["complaint"]["weights"]
        contrib = [(n, w[n] * v) for n, v in features(text, compound, self._ngrams).items() if n in w]
        return sorted(contrib, key=lambda c: -abs(c[1]))

    def _cues(self, f: dict[str, float], hits: dict[str, list[tuple[str, bool]]], compound: float,
              is_complaint: bool) -> list[str]:
        """Display names of the features pushing towards the decision, strongest first."""
        w = self.model["complaint"]["weights"]
        shown: dict[str, float] = {}
        for name, value in f.items():
            c = w.get(name, 0.0) * value
            if not c:
                continue
            if name.startswith("agg:"):  # totals over the complaint cues: credit them to those cues
                cats = [k for k in _COMPLAINT_CATS if k in hits]
                for k in cats:
                    key = _cue_label(k, hits)
                    shown[key] = shown.get(key, 0.0) + c / len(cats)
                continue
            key = _display(name, compound, hits)
            shown[key] = shown.get(key, 0.0) + c
        sign = 1.0 if is_complaint else -1.0
        ranked = [k for k, c in sorted(shown.items(), key=lambda kc: -sign * kc[1]) if sign * c > 0]
        talk = self.model.get("customer_talk")
        if talk and not is_complaint:
            p_talk = linear_probability(f, talk)
            if p_talk < 0.5:
                ranked.insert(0, f"not customer talk {p_talk:.2f}")
        return ranked


def _cue_label(cat: str, hits: dict[str, list[tuple[str, bool]]]) -> str:
    return "cue:" + ", ".join(dict.fromkeys(label for label, _ in hits[cat]))


def _display(name: str, compound: float, hits: dict[str, list[tuple[str, bool]]]) -> str:
    kind, _, rest = name.partition(":")
    if kind == "w":
        return "word:" + rest
    if kind == "b":
        return "words:" + rest.replace("<s> ", "^").replace(" </s>", "$")
    if kind == "cat":
        return _cue_label(rest, hits)
    if kind == "v":
        return f"{'negative' if compound < 0 else 'positive'} sentiment {compound:+.2f}"
    return _SHAPE_NAMES.get(name, name)


def _category(hits: dict[str, list[tuple[str, bool]]]) -> str:
    """The complaint category with the most strong cues, then the most cues; LEXICON order breaks ties."""
    ranked = [(sum(1 for _, s in hits[c] if s), len(hits[c]), -i, c) for i, c in enumerate(_CATEGORY_ORDER)
              if c in hits]
    return max(ranked)[3] if ranked else "other"
