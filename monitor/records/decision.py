"""A decision of the detector, as the engine records it and alerts render it.

Every decision has a name (what was decided), a kind (about one cascade or a watch-list's volume) and,
when it is an alert, a level (``new`` opens a Slack thread, ``update`` posts in it). Their values are
the strings alert lines, the store and ops' filters use (docs/detection.md, "Decisions").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from monitor.records.mention import format_time


class DecisionName(StrEnum):
    FIRST_ALERT = "first_alert"
    GROWTH_UPDATE = "growth_update"
    VIP_JOINED = "vip_joined"
    SPIKE_ALERT = "spike_alert"
    SUPPRESSED_NOT_COMPLAINT = "suppressed_not_complaint"
    SUPPRESSED_TOO_EARLY = "suppressed_too_early"
    SUPPRESSED_BELOW_THRESHOLD = "suppressed_below_threshold"
    SUPPRESSED_SPIKE_DISABLED = "suppressed_spike_disabled"


class Kind(StrEnum):
    CASCADE = "cascade"
    SPIKE = "spike"


class Level(StrEnum):
    NEW = "new"
    UPDATE = "update"


@dataclass(slots=True, frozen=True)
class CascadeMeasures:
    """What a cascade decision's alert line carries besides its names, in the line's key order
    (docs/detection.md, "Alert lines"). ``root``, ``complaint``, ``top_reactions`` are the root
    mention's and reactions' records as JSON, which the renderer reads leniently."""

    reactions: int
    score: float
    projected: float
    projected_low: float
    rate: float
    acceleration: float
    infectiousness: float
    branching: float
    reach: int
    threshold: int
    p_storm: float
    share_of_threshold: float
    age_minutes: float
    channels: list[str]
    vip: bool
    vips: list[str]
    root: dict[str, Any]
    complaint: dict[str, Any]
    sentiment: dict[str, Any]        # root, negative, neutral, positive
    growth: list[int]                # reactions per growth_bucket, oldest first
    growth_bucket: str
    top_reactions: list[dict[str, Any]]
    # Only for a cascade whose post's public metrics were read (an X lookup): reactions counted from
    # those figures, and those of them not seen one by one; absent from the line otherwise.
    reported_reactions: int | None = None
    unseen_reactions: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        if self.reported_reactions is None:
            del out["reported_reactions"], out["unseen_reactions"]
        return out


@dataclass(slots=True, frozen=True)
class SpikeMeasures:
    """What a spike decision's alert line carries besides its names, in the line's key order."""

    reactions: int
    observed: int
    baseline: float
    dispersion: float
    baseline_median_per_hour: float
    mad: float
    baseline_basis: str
    window: str
    p_value: float
    score: float
    rate: float
    threshold: int
    started_at: str
    top_terms: list[str]
    scope: str
    examples: list[dict[str, Any]]   # id, text, and author, followers, url while its cascade is open

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


Measures = CascadeMeasures | SpikeMeasures


@dataclass(slots=True)
class Decision:
    """One decision; ``fields`` are the measures its alert line carries (docs/detection.md)."""

    name: DecisionName
    at: datetime
    kind: Kind
    level: Level | None
    watchlist: str
    root_id: str
    reason: str
    fields: Measures

    def __post_init__(self) -> None:
        # Names given as strings are checked here: an unknown one is a bug, not a new decision.
        self.name, self.kind = DecisionName(self.name), Kind(self.kind)
        self.level = None if self.level is None else Level(self.level)

    @property
    def is_alert(self) -> bool:
        return self.level is not None

    def to_json(self) -> dict[str, Any]:
        out = {"at": format_time(self.at), "kind": self.kind.value,
               "level": None if self.level is None else self.level.value, "watchlist": self.watchlist,
               "root_id": self.root_id, "decision": self.name.value, "reason": self.reason}
        out.update(self.fields.to_json())
        return out
