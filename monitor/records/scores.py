"""What scoring says of one mention, as the later stages (detection, alerts, the store) read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ComplaintScore:
    probability: float  # 0..1, calibrated-ish
    is_complaint: bool  # probability >= the model's threshold
    specific: bool  # a specific, actionable complaint (only meaningful when is_complaint)
    category: str | None  # one of the complaint model's categories; None when not a complaint
    cues: tuple[str, ...]  # human-readable cues that fired, strongest first


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
