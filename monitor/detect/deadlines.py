"""Keys that fall due at given times, taken out once due: when open cascades may be forgotten.

A heap would take O(log n) comparisons of datetimes per key, and a replay of a busy week keeps
hundreds of thousands of cascades open, every one of them added and taken out. Here keys wait in one-minute
buckets, so adding one is a dict lookup and an append, and ``due`` visits only the buckets up to now.
Whether a key is due is decided on its exact time; the buckets only say where to look.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

WIDTH = 60.0  # seconds a bucket spans


class Deadlines(Generic[K]):
    def __init__(self) -> None:
        self._buckets: dict[int, list[tuple[datetime, K]]] = {}
        self._first: int | None = None  # no bucket below this one holds anything

    def __len__(self) -> int:
        return sum(len(b) for b in self._buckets.values())

    def add(self, at: datetime, key: K) -> None:
        """``key`` falls due at ``at`` (a key added twice is due twice)."""
        b = int(at.timestamp() // WIDTH)
        if self._first is None or b < self._first:
            self._first = b
        found = self._buckets.get(b)
        if found is None:
            self._buckets[b] = [(at, key)]
        else:
            found.append((at, key))

    def due(self, now: datetime) -> list[K]:
        """Take out and return every key due before ``now`` (strictly), earliest buckets first."""
        if self._first is None:
            return []
        limit = int(now.timestamp() // WIDTH)
        out: list[K] = []
        # Walk the minutes up to now, unless there are fewer buckets than minutes: one key dated in
        # year 1 would otherwise mean a billion empty minutes (34 s in a replay).
        span = limit - self._first + 1
        buckets = range(self._first, limit + 1) if span <= 2 * len(self._buckets) + 16 else sorted(
            b for b in self._buckets if b <= limit)
        for b in buckets:
            entries = self._buckets.pop(b, None)
            if not entries:
                continue
            waiting = []
            for at, key in entries:
                if at < now:
                    out.append(key)
                else:
                    waiting.append((at, key))
            if waiting:
                self._buckets[b] = waiting
        self._first = max(self._first, limit)
        return out
