"""Monthly read budget for X, paced across the calendar month (UTC).

X plans cap the posts read per month. Spending freely would empty a small plan on day 3, so reads
allowed so far grow linearly through the month: ``budget * elapsed fraction + burst``, never more
than the budget. The burst (1% of the budget, at least one minimum page of 10) lets the first poll
of a month, or a quiet spell's savings, be spent at once. Usage is counted per calendar month and
kept in the X source's cursor: ``{"month": "2026-01", "used": 1234}``, so it survives restarts.

Pure functions of an injected ``now``; no clock is read here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MIN_PAGE = 10  # recent search refuses max_results below 10


def month_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    return datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)


def month_key(now: datetime) -> str:
    return month_start(now).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class MonthlyBudget:
    budget: int  # posts a month for this source
    burst: int | None = None  # None: 1% of the budget, at least MIN_PAGE

    @property
    def allowance(self) -> int:
        burst = self.burst if self.burst is not None else max(MIN_PAGE, self.budget // 100)
        return min(self.budget, burst)

    def used(self, usage: dict[str, Any] | None, now: datetime) -> int:
        """Reads spent this calendar month (a usage record of an earlier month counts as zero)."""
        if not usage or usage.get("month") != month_key(now):
            return 0
        return int(usage.get("used") or 0)

    def allowed(self, now: datetime) -> float:
        """Reads allowed from the month's start up to ``now``, burst included."""
        start, end = month_start(now), next_month_start(now)
        fraction = (now - start) / (end - start)
        return min(float(self.budget), self.budget * fraction + self.allowance)

    def available(self, usage: dict[str, Any] | None, now: datetime) -> int:
        return max(0, math.floor(self.allowed(now) - self.used(usage, now)))

    def spend(self, usage: dict[str, Any] | None, reads: int, now: datetime) -> dict[str, Any]:
        """The usage record after ``reads`` more posts were read at ``now``."""
        return {"month": month_key(now), "used": self.used(usage, now) + max(0, reads)}

    def next_allowed_at(self, usage: dict[str, Any] | None, now: datetime, need: int = MIN_PAGE) -> datetime:
        """The earliest time at which ``need`` more reads fit (at the latest, next month's start)."""
        used = self.used(usage, now)
        if self.allowed(now) - used >= need:
            return now
        start, end = month_start(now), next_month_start(now)
        if self.budget <= 0 or used + need > self.budget:
            return end  # this month's budget cannot fit it any more
        fraction = (used + need - self.allowance) / self.budget  # budget * fraction must reach this
        # One second of slack so that float rounding never lands us a hair before the reads fit.
        when = start + timedelta(seconds=math.ceil((end - start).total_seconds() * fraction) + 1)
        return min(end, max(now, when))

    def status(self, usage: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
        """For ``monitor status``: what was spent, what the pace allows, what is left."""
        used = self.used(usage, now)
        return {
            "month": month_key(now),
            "used": used,
            "budget": self.budget,
            "allowed_so_far": math.floor(self.allowed(now)),
            "available_now": self.available(usage, now),
            "left_this_month": max(0, self.budget - used),
        }
