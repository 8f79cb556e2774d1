"""What is judged of one mention alone: VADER sentiment and the complaint model."""

from __future__ import annotations

from monitor.scoring.ahead import ScoreAhead
from monitor.scoring.complaint import ComplaintClassifier
from monitor.scoring.scores import Scorer

__all__ = ["ComplaintClassifier", "ScoreAhead", "Scorer"]
