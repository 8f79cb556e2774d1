"""A volume count: how many posts matched a watch-list in a span, as a service counted them.

X's ``/2/tweets/counts/recent`` counts a query's posts per minute for one request's price, where
reading them page by page would cost each post: the spike detector takes these counts as they are
(``monitor.detect.detector.Detector.add_volume``), whoever read the posts one by one or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class VolumeCount:
    watchlist: str
    source: str          # "x"
    start: datetime
    end: datetime
    count: int
