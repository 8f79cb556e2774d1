"""Values that cross the stages: the mention record, its scores, and the detector's decisions."""

from __future__ import annotations

from monitor.records.decision import Decision, DecisionName, Kind, Level
from monitor.records.mention import Author, Mention, canonical_url, format_time, parse_time
from monitor.records.scores import ComplaintScore, Scores

__all__ = [
    "Author",
    "ComplaintScore",
    "Decision",
    "DecisionName",
    "Kind",
    "Level",
    "Mention",
    "Scores",
    "canonical_url",
    "format_time",
    "parse_time",
]
