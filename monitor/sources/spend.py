"""What X costs: one ledger of money and post reads shared by every X source, paced across the month.

X's pay-per-use plan bills each post read ($0.005), each user read ($0.010) and each request to the
counts endpoint ($0.005); a post read again within the same UTC day is not billed again; a month
holds at most 3 million post reads. ``x.monthly_budget_usd`` (optional) caps the money, paced like
the post budget (``monitor/sources/budget.py``): what may be spent so far grows linearly through the
calendar month, plus a burst of 1%.

Two priorities share the pace: open complaints (the post lookups that measure a complaint's spread,
and fetching its replies and quotes) may spend all of it; chatter (keyword search, volume counts)
may not touch what open complaints ask for (``demand``, said by the lookup source at each poll), up to
``x.complaint_reserve`` of the pace, so a busy day of chatter never leaves a spreading complaint
unmeasured. With no open complaint to measure, chatter has the whole pace, as before.

Each source keeps its own spend record in its cursor (``{"month": "2026-05", "usd": 1.23, "posts":
200, "users": 40, "counts": 3, "free": 12}``), so the total survives restarts: the ledger is seeded
from the stored cursors when the sources are built. Pure functions of an injected ``now``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from monitor.config.settings import XSettings
from monitor.sources.budget import month_key, month_start, next_month_start

BURST_SHARE = 0.01


class Priority(Enum):
    COMPLAINT = "complaint"  # lookups and reactions of open complaints: the whole pace
    CHATTER = "chatter"      # keyword search and counts: the pace less the complaint reserve


class XLedger:
    """One per process (rebuilt, and re-seeded from the cursors, on a config reload)."""

    def __init__(self, settings: XSettings):
        self.settings = settings
        self.budget_usd = settings.monthly_budget_usd
        self.budget_posts = settings.monthly_read_budget
        self._records: dict[str, dict[str, Any]] = {}
        self._read: dict[str, set[str]] = {}  # UTC day -> post ids billed that day (lookups)
        self.demand_posts = 0  # what open complaints want read now: held back from chatter (see the docstring)

    def demand(self, posts: int) -> None:
        """Open complaints want ``posts`` post reads now (the lookup source says so at each poll)."""
        self.demand_posts = max(0, posts)

    # -- records ---------------------------------------------------------------------------------
    def seed(self, key: str, cursor: dict[str, Any] | None) -> None:
        """Take what a source's stored cursor says it spent (and read today)."""
        if not cursor:
            return
        record = cursor.get("spend")
        if isinstance(record, dict):
            self._records[key] = dict(record)
        read = cursor.get("read_today")
        if isinstance(read, dict) and isinstance(read.get("ids"), list):
            self._read.setdefault(str(read.get("day")), set()).update(str(i) for i in read["ids"])

    def record(self, key: str, now: datetime) -> dict[str, Any]:
        """The spend record of ``key`` for this month, for its cursor."""
        r = self._records.get(key)
        if not r or r.get("month") != month_key(now):
            r = self._records[key] = {"month": month_key(now), "usd": 0.0, "posts": 0, "users": 0, "counts": 0,
                                      "free": 0}
        return r

    def read_today(self, now: datetime) -> dict[str, Any]:
        """The posts billed today (for the lookup source's cursor): a re-read today is free."""
        day = _day(now)
        self._read = {d: ids for d, ids in self._read.items() if d == day}
        return {"day": day, "ids": sorted(self._read.get(day, ()))}

    def unbilled(self, ids: Iterable[str], now: datetime) -> list[str]:
        """Those of ``ids`` not yet billed today: what reading them would cost."""
        seen = self._read.get(_day(now), set())
        return [i for i in ids if i not in seen]

    def charge(self, key: str, now: datetime, *, posts: int = 0, users: int = 0, counts: int = 0,
               post_ids: Iterable[str] | None = None) -> float:
        """Note what one response cost; ``post_ids`` (lookups): only those not billed today are. Returns USD."""
        r = self.record(key, now)
        if post_ids is not None:
            ids = list(dict.fromkeys(post_ids))
            fresh = self.unbilled(ids, now)
            self._read.setdefault(_day(now), set()).update(fresh)
            r["free"] = int(r.get("free") or 0) + len(ids) - len(fresh)
            posts = len(fresh)
        s = self.settings
        usd = posts * s.price_per_post_read + users * s.price_per_user_read + counts * s.price_per_count_request
        r["usd"] = round(float(r.get("usd") or 0.0) + usd, 6)
        r["posts"] = int(r.get("posts") or 0) + posts
        r["users"] = int(r.get("users") or 0) + users
        r["counts"] = int(r.get("counts") or 0) + counts
        return usd

    # -- totals and pace -------------------------------------------------------------------------
    def spent_usd(self, now: datetime) -> float:
        month = month_key(now)
        return sum(float(r.get("usd") or 0.0) for r in self._records.values() if r.get("month") == month)

    def spent_posts(self, now: datetime) -> int:
        month = month_key(now)
        return sum(int(r.get("posts") or 0) for r in self._records.values() if r.get("month") == month)

    def allowed_usd(self, now: datetime, priority: Priority = Priority.COMPLAINT) -> float:
        """USD that may have been spent by ``now`` at this priority (infinite without a money budget)."""
        if self.budget_usd is None:
            return math.inf
        total = min(self.budget_usd, self.budget_usd * _fraction(now) + self.budget_usd * BURST_SHARE)
        if priority is Priority.CHATTER:
            held = self.demand_posts * self.settings.price_per_post_read
            total -= min(self.settings.complaint_reserve * total, held)
        return total

    def allowed_posts(self, now: datetime, priority: Priority = Priority.COMPLAINT) -> float:
        b = self.budget_posts
        total = min(float(b), b * _fraction(now) + max(10, b * BURST_SHARE))
        if priority is Priority.CHATTER:
            total -= min(self.settings.complaint_reserve * total, float(self.demand_posts))
        return total

    def affordable_posts(self, now: datetime, priority: Priority, *, users_per_post: float = 0.0) -> int:
        """How many more posts (each bringing ``users_per_post`` user reads) fit the pace now."""
        posts = self.allowed_posts(now, priority) - self.spent_posts(now)
        s = self.settings
        unit = s.price_per_post_read + users_per_post * s.price_per_user_read
        money = (self.allowed_usd(now, priority) - self.spent_usd(now)) / unit if unit > 0 else math.inf
        return max(0, math.floor(min(posts, money)))

    def affords(self, now: datetime, priority: Priority, usd: float) -> bool:
        return self.allowed_usd(now, priority) - self.spent_usd(now) >= usd

    def next_allowed_at(self, now: datetime, priority: Priority, usd: float, posts: int = 0) -> datetime:
        """The earliest time at which ``usd`` more and ``posts`` more fit this priority's pace."""
        start, end = month_start(now), next_month_start(now)
        span = (end - start).total_seconds()
        when = now
        held = priority is Priority.CHATTER and self.demand_posts > 0
        share = 1.0 - self.settings.complaint_reserve if held else 1.0
        if self.budget_usd is not None and usd > 0:
            need = (self.spent_usd(now) + usd) / max(share, 1e-9)
            if need > self.budget_usd:
                return end
            frac = (need - self.budget_usd * BURST_SHARE) / self.budget_usd if self.budget_usd else 1.0
            when = max(when, start + timedelta(seconds=math.ceil(span * frac) + 1))
        if posts > 0 and self.budget_posts > 0:
            need = (self.spent_posts(now) + posts) / max(share, 1e-9)
            if need > self.budget_posts:
                return end
            frac = (need - max(10, self.budget_posts * BURST_SHARE)) / self.budget_posts
            when = max(when, start + timedelta(seconds=math.ceil(span * frac) + 1))
        return min(end, when)

    def status(self, now: datetime) -> dict[str, Any]:
        """For ``monitor status``: spend so far this month, every X source together, and the month projected."""
        month = month_key(now)
        mine = [r for r in self._records.values() if r.get("month") == month]
        spent = self.spent_usd(now)
        fraction = _fraction(now)
        return {
            "month": month,
            "spent_usd": round(spent, 4),
            "budget_usd": self.budget_usd,
            "projected_usd": round(spent / fraction, 2) if fraction > 0 else None,
            "allowed_so_far_usd": None if self.budget_usd is None else round(self.allowed_usd(now), 4),
            "posts": sum(int(r.get("posts") or 0) for r in mine),
            "users": sum(int(r.get("users") or 0) for r in mine),
            "count_requests": sum(int(r.get("counts") or 0) for r in mine),
            "free_rereads": sum(int(r.get("free") or 0) for r in mine),
            "post_budget": self.budget_posts,
        }


def _fraction(now: datetime) -> float:
    start, end = month_start(now), next_month_start(now)
    return (now - start) / (end - start)


def _day(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")
