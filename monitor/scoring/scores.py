"""Sentiment and complaint: what we judge about one mention on its own.

VADER reads the raw text: it uses case ("GREAT"), punctuation ("!!!") and emoji, so nothing is
lowercased or stripped before it sees the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.scoring.complaint import ComplaintClassifier, ComplaintScore


@dataclass(frozen=True, slots=True)
class Scores:
    sentiment: float            # VADER compound, -1..1
    complaint: ComplaintScore

    def to_json(self) -> dict[str, Any]:
        return {
            "sentiment": round(self.sentiment, 4),
            "complaint": round(self.complaint.probability, 4),
            "is_complaint": self.complaint.is_complaint,
            "specific": self.complaint.specific,
            "category": self.complaint.category,
            "cues": list(self.complaint.cues),
        }


class Scorer:
    """Scores text; one instance per process (loading VADER's lexicon takes a moment)."""

    def __init__(self, classifier: ComplaintClassifier | None = None):
        self._vader = SentimentIntensityAnalyzer()
        self._classifier = classifier or ComplaintClassifier.load()

    @property
    def complaint_threshold(self) -> float:
        """The complaint probability from which a mention counts as a complaint."""
        return self._classifier.threshold

    def sentiment(self, text: str) -> float:
        return float(self._vader.polarity_scores(text)["compound"])

    def score(self, text: str, *, explain: bool = True) -> Scores:
        """Sentiment and complaint score; ``explain=False`` leaves out the cues but the evidence (only
        roots' cues are ever shown)."""
        sentiment = self.sentiment(text)
        return Scores(sentiment, self._classifier.score(text, sentiment=sentiment, explain=explain))
