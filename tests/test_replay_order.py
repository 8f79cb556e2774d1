"""The reorder buffer: a replay sees records in observed order, as far as its buffer can restore it."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitor.records.mention import Author, Mention
from monitor.replay import ReplaySummary, in_observed_order

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def mention(n: int, minute: int) -> Mention:
    at = T0 + timedelta(minutes=minute)
    return Mention(f"x:{n}", "x", "post", None, None, Author("a", "a"), "acme", [], at, at)


def one_heap(records: list[Mention], summary: ReplaySummary, buffer: int) -> Iterator[Mention]:
    """The model: every record through one heap of ``buffer``, ties in read order."""
    heap: list[tuple[datetime, int, Mention]] = []
    released = None
    for seq, m in enumerate(records):
        heapq.heappush(heap, (m.observed_at, seq, m))
        if len(heap) > buffer:
            t, _, out = heapq.heappop(heap)
            summary.late += released is not None and t < released
            released = max(t, released or t)
            yield out
    while heap:
        t, _, out = heapq.heappop(heap)
        summary.late += released is not None and t < released
        released = max(t, released or t)
        yield out


@given(minutes=st.lists(st.integers(0, 30), max_size=60), buffer=st.integers(1, 8))
def test_records_come_out_as_from_one_heap_whatever_their_order(minutes: list[int], buffer: int) -> None:
    records = [mention(n, m) for n, m in enumerate(minutes)]
    got, expected = ReplaySummary(), ReplaySummary()
    replayed = [m.id for m in in_observed_order(records, got, buffer)]
    assert replayed == [m.id for m in one_heap(records, expected, buffer)]
    assert got.late == expected.late


@given(minutes=st.lists(st.integers(0, 30), max_size=60).map(sorted), buffer=st.integers(1, 8))
def test_records_already_in_order_come_out_unchanged_with_none_late(minutes: list[int], buffer: int) -> None:
    records = [mention(n, m) for n, m in enumerate(minutes)]
    summary = ReplaySummary()
    assert list(in_observed_order(records, summary, buffer)) == records and summary.late == 0


def test_a_record_later_than_the_buffer_can_wait_for_is_counted_late() -> None:
    records = [mention(0, 5), mention(1, 6), mention(2, 7), mention(3, 1)]
    summary = ReplaySummary()
    assert [m.id for m in in_observed_order(records, summary, buffer=2)] == ["x:0", "x:3", "x:1", "x:2"]
    assert summary.late == 1
