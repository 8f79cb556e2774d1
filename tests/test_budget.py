"""Monthly X read budget, paced across the month, on an injected clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from devkit.standins.xapi import XApi
from monitor.clock import SimulatedClock
from monitor.config.settings import Secret, XSettings
from monitor.sources.budget import MonthlyBudget, month_key, next_month_start
from monitor.sources.x import XSource

MARCH = datetime(2026, 3, 1, tzinfo=UTC)  # 31 days


def test_the_month_starts_with_only_the_burst_allowance() -> None:
    b = MonthlyBudget(10_000)
    assert b.allowance == 100 and b.available(None, MARCH) == 100
    assert MonthlyBudget(500).allowance == 10  # at least one minimum page
    assert MonthlyBudget(5).allowance == 5  # never more than the budget


def test_allowed_reads_grow_linearly_through_the_month() -> None:
    b = MonthlyBudget(31_000)
    assert b.allowed(MARCH + timedelta(days=1)) == pytest.approx(1000 + 310)
    assert b.allowed(MARCH + timedelta(days=15.5)) == pytest.approx(15_500 + 310)
    assert b.allowed(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) == 31_000  # capped at the budget


def test_spending_counts_per_calendar_month() -> None:
    b = MonthlyBudget(31_000)
    now = MARCH + timedelta(days=10)
    usage = b.spend(None, 4000, now)
    assert usage == {"month": "2026-03", "used": 4000}
    assert b.available(usage, now) == 10_000 + 310 - 4000
    april = datetime(2026, 4, 1, 0, 0, 1, tzinfo=UTC)
    assert b.used(usage, april) == 0 and b.spend(usage, 7, april) == {"month": "2026-04", "used": 7}


def test_when_the_pace_is_spent_the_next_page_is_due_when_the_pace_allows_it() -> None:
    b = MonthlyBudget(31_000)
    now = MARCH + timedelta(days=2)
    usage = b.spend(None, int(b.allowed(now)), now)
    assert b.available(usage, now) == 0
    at = b.next_allowed_at(usage, now, need=10)
    # 10 more reads accrue in 10/31000 of a month: 864 seconds, plus one second of slack.
    assert timedelta(seconds=860) <= at - now <= timedelta(seconds=870)
    assert b.available(usage, at) >= 10


def test_a_spent_month_waits_for_the_next_one() -> None:
    b = MonthlyBudget(1000)
    now = datetime(2026, 3, 20, tzinfo=UTC)
    usage = b.spend(None, 995, now)
    assert b.next_allowed_at(usage, now, need=10) == next_month_start(now) == datetime(2026, 4, 1, tzinfo=UTC)
    assert month_key(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == "2026-12"
    assert next_month_start(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_small_plan_polled_every_two_minutes_lasts_the_whole_month() -> None:
    """A busy query and a 1,500-post plan: reads never outrun the pace, and day 30 still reads."""
    b = MonthlyBudget(1500)
    clock = SimulatedClock(MARCH)
    usage = None
    per_day: dict[int, int] = {}
    while clock.now() < datetime(2026, 4, 1, tzinfo=UTC):
        now = clock.now()
        want = 500  # five full pages are always waiting
        take = min(want, b.available(usage, now))
        if take >= 10:
            usage = b.spend(usage, take, now)
            per_day[now.day] = per_day.get(now.day, 0) + take
        clock.advance(120)
    assert b.used(usage, datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) <= 1500
    assert sum(v for d, v in per_day.items() if d <= 3) <= 1500 * 3 / 31 + b.allowance
    assert per_day.get(30, 0) > 0 and per_day.get(31, 0) > 0


def test_the_x_source_reads_no_more_than_the_pace_and_parks_until_it_allows_a_page() -> None:
    clock = SimulatedClock(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    with XApi(token="budget-token-123456") as api:
        for i in range(60):
            api.add_tweet(f"acme {i}", author=f"u{i % 7}")
        settings = XSettings(api_url=api.url, monthly_read_budget=3100, page_size=100, max_pages_per_cycle=5)
        src = XSource("x:acme", "acme", Secret("budget-token-123456"), settings)
        first = asyncio.run(src.poll(None, clock.now()))
        asked = [r.query["max_results"][0] for r in api.requests if r.path == "/2/tweets/search/recent"]
    # At the month's start the pace allows only the burst (31 posts): one page of 31, then park.
    assert asked == ["31"]
    assert first.cursor["usage"] == {"month": "2026-03", "used": 31}
    assert first.detail["budget"]["used"] == 31 and first.detail["budget"]["budget"] == 3100
    assert first.park_until is not None and first.park_until > clock.now()
    assert first.park_until - clock.now() <= timedelta(hours=3)  # ten more reads accrue in ~2.4 hours
