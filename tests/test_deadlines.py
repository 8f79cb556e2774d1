"""Deadlines: a key is taken out at the first ``due(now)`` with its time before ``now``, never earlier."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitor.detect.deadlines import Deadlines

T0 = datetime(2026, 11, 2, tzinfo=UTC)
# Times in microseconds around T0, so that keys share buckets, fall on bucket edges and differ by 1 us.
OFFSETS = st.one_of(st.integers(-200_000_000, 400_000_000), st.sampled_from([0, 1, 59_999_999, 60_000_000]))


@given(steps=st.lists(st.one_of(st.tuples(st.just("add"), OFFSETS, st.integers(0, 5)),
                                 st.tuples(st.just("due"), OFFSETS, st.just(0))), max_size=40))
def test_due_takes_out_exactly_the_keys_due_before_now(steps: list[tuple[str, int, int]]) -> None:
    d: Deadlines[int] = Deadlines()
    waiting: Counter[tuple[datetime, int]] = Counter()  # the model: every (time, key) not yet taken out
    for op, offset, key in steps:
        at = T0 + timedelta(microseconds=offset)
        if op == "add":
            d.add(at, key)
            waiting[(at, key)] += 1
        else:
            expected = Counter(k for (t, k), n in waiting.items() if t < at for _ in range(n))
            assert Counter(d.due(at)) == expected
            waiting = Counter({(t, k): n for (t, k), n in waiting.items() if not t < at})
        assert len(d) == sum(waiting.values())


def test_a_key_due_exactly_now_waits_for_the_next_call() -> None:
    d: Deadlines[str] = Deadlines()
    d.add(T0, "a")
    assert d.due(T0) == []
    assert d.due(T0 + timedelta(microseconds=1)) == ["a"]
    assert d.due(T0 + timedelta(days=1)) == [] and len(d) == 0


def test_a_key_added_earlier_than_any_before_it_is_still_found() -> None:
    d: Deadlines[str] = Deadlines()
    d.add(T0 + timedelta(hours=5), "late")
    assert d.due(T0 + timedelta(hours=1)) == []
    d.add(T0, "early")  # below every bucket looked at so far
    assert d.due(T0 + timedelta(hours=1)) == ["early"]
    assert d.due(T0 + timedelta(hours=6)) == ["late"]
