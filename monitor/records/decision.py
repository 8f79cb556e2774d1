"""A decision of the detector, as the engine records it and alerts render it.

Every decision has a name (what was decided), a kind (about one cascade or a watch-list's volume) and,
when it is an alert, a level (``new`` opens a Slack thread, ``update`` posts in it). Their values are
the strings alert lines, the store and ops' filters use (docs/detection.md, "Decisions").
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    fields: dict[str, Any] = field(default_factory=dict)

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
        out.update(self.fields)
        return out
