"""Sentiment and complaint: what we judge about one mention on its own.

VADER reads the raw text: it uses case ("GREAT"), punctuation ("!!!") and emoji, so nothing is
lowercased or stripped before it sees the text.
"""

from __future__ import annotations

import functools

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.records.scores import Scores
from monitor.scoring.complaint import ComplaintClassifier

SCORE_CACHE = 8192  # texts whose scores are kept (about 0.8 KB each): retweets and copies repeat a text


class Scorer:
    """Scores text; one instance per process (loading VADER's lexicon takes a moment). The scores of
    the last ``cache`` distinct texts are kept: the one score cache of the pipeline."""

    def __init__(self, classifier: ComplaintClassifier | None = None, *, cache: int = SCORE_CACHE):
        self._vader = SentimentIntensityAnalyzer()
        self._classifier = classifier or ComplaintClassifier.load()
        # The key is positional: keyword arguments make lru_cache's keys dearer.
        self._cached = functools.lru_cache(maxsize=cache)(self._score)

    @property
    def complaint_threshold(self) -> float:
        """The complaint probability from which a mention counts as a complaint."""
        return self._classifier.threshold

    def sentiment(self, text: str) -> float:
        return float(self._vader.polarity_scores(text)["compound"])

    def score(self, text: str, *, explain: bool = True) -> Scores:
        """Sentiment and complaint score; ``explain=False`` leaves out the cues but the evidence (only
        roots' cues are ever shown)."""
        return self._cached(text, explain)

    def _score(self, text: str, explain: bool) -> Scores:
        sentiment = self.sentiment(text)
        return Scores(sentiment, self._classifier.score(text, sentiment=sentiment, explain=explain))
