"""What the detector keeps of one open cascade: its root's fields, and once it has a reaction, its state.

A week holds hundreds of thousands of open cascades, and most roots never get a reaction. A root
without one is kept as a ``Pending`` root: its fields, its complaint score and whether its author is a
VIP. Its ``Cascade`` (activity, participants, top reactions) is built at its first reaction, so the
many roots that never get one never pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from monitor.detect.projection import Activity
from monitor.records.mention import Mention, format_time
from monitor.records.scores import ComplaintScore


class Pending(NamedTuple):
    """A root with no reaction yet."""

    root: RootFields
    complaint: ComplaintScore
    vip: bool


@dataclass(slots=True)
class Cascade:
    """One open cascade with a reaction (or restored with its alert state). Most have only a few, so
    the small sets are frozensets, replaced when they change: an empty one costs nothing, an empty set
    216 bytes each."""

    root_id: str
    watchlist: str
    root_mention: RootFields          # what alerts show of the root (see ``root``)
    root_at: datetime
    root_complaint: ComplaintScore
    root_vip: bool
    activity: Activity
    participants: dict[str, int] = field(default_factory=dict)   # handle -> followers
    reach: int = 0
    channels: frozenset[str] = frozenset()
    vips: frozenset[str] = frozenset()                           # VIP handles among the participants
    sentiment: list[int] = field(default_factory=lambda: [0, 0, 0])  # negative, neutral, positive reactions
    top: list[dict[str, Any]] = field(default_factory=list)      # the three reactions with most followers
    last_at: datetime | None = None
    level: str | None = None
    alerted_size: int = 0
    last_alert_at: datetime | None = None
    vips_announced: frozenset[str] = frozenset()
    noted: frozenset[str] = frozenset()                          # suppression names already recorded
    judged_size: int = 0                                         # reactions at the last storm estimate
    judged_p: float = 1.0                                        # and the probability it gave
    dirty: bool = True
    # Reactions a service reported (X's public_metrics) that were not seen one by one: None until the
    # first report, so the cascades that never get one pay nothing (Detector.report_counts).
    counts: ReportedCounts | None = None
    # Reactions seen one by one per post of the cascade other than the root (replies, reposts, quotes of
    # it): a post's first reported count then subtracts those seen before it (Detector.report_counts).
    answers: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.activity.count

    @property
    def root(self) -> dict[str, Any]:
        """The root as shown in alerts. Built when asked: most cascades never are."""
        return self.root_mention.view()

    @property
    def is_complaint(self) -> bool:
        return self.root_complaint.is_complaint

    @property
    def complaint(self) -> dict[str, Any]:
        cs = self.root_complaint
        return {"probability": round(cs.probability, 3), "category": cs.category, "specific": cs.specific,
                "cues": list(cs.cues)}

    def seconds(self, at: datetime) -> float:
        return (at - self.root_at).total_seconds()


@dataclass(slots=True)
class ReportedCounts:
    """Per reported mention id: its reactions as reported (reposts + replies + quotes), how many of them were
    seen one by one, and how many stand in the cascade's activity as unseen ones."""

    reported: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    unseen_reach: float = 0.0  # followers the unseen reactors are estimated to have, in all

    @property
    def total_unseen(self) -> int:
        return sum(self.unseen.values())

    @property
    def total_reported(self) -> int:
        return sum(self.reported.values())

    def seen_one(self, parent: str) -> bool:
        """A reaction to ``parent`` seen one by one: True when it was already counted as one of its unseen
        reactions (it takes that one's place and is not counted again)."""
        if parent not in self.reported:
            return False
        self.seen[parent] = self.seen.get(parent, 0) + 1
        unseen = self.unseen.get(parent, 0)
        if unseen <= 0:
            return False
        self.unseen_reach -= self.unseen_reach / max(1, self.total_unseen)
        self.unseen[parent] = unseen - 1
        return True


@dataclass(slots=True)
class RootFields:
    """What a cascade keeps of its root mention: a week's replay holds hundreds of thousands. Not frozen:
    a frozen dataclass sets each field through object.__setattr__, which costs more than the rest of
    building it."""

    id: str
    source: str
    url: str | None
    text: str
    handle: str
    name: str | None
    followers: int | None
    created_at: datetime
    sentiment: float
    title: str | None

    @classmethod
    def of(cls, m: Mention, sentiment: float) -> RootFields:
        a = m.author
        return cls(m.id, m.source, m.url, m.text[:1000], a.handle, a.name, a.followers, m.created_at, sentiment,
                   m.title)

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "source": self.source, "url": self.url, "text": self.text,
                               "author": {"handle": self.handle, "name": self.name, "followers": self.followers},
                               "created_at": format_time(self.created_at), "sentiment": round(self.sentiment, 3)}
        if self.title:
            out["title"] = self.title
        return out
