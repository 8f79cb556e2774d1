"""Drives the pipeline from a JSONL file of mention records on a simulated clock.

This is the backtest ops use to tune thresholds on past data: the same Pipeline as the daemon,
fed in ``observed_at`` order, with detection run every ``detection.every`` of simulated time.
Nothing is delivered; each alert decision is handed to ``emit``.
"""

from __future__ import annotations

import gc
import heapq
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from monitor.clock import SimulatedClock
from monitor.engine.pipeline import Pipeline
from monitor.errors import RecordError
from monitor.records.decision import Decision
from monitor.records.mention import Mention
from monitor.store import indexes
from monitor.store.database import MIGRATIONS, Store

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A record is a few KB; a longer line is skipped without being held (a 100 MB line, or /dev/zero,
# which has no newline, ended the replay in a MemoryError).
MAX_LINE = 1 << 20  # bytes (characters from a text stream), its newline included
COMMIT_EVERY = 20_000  # mentions a replay writes per commit
# A replay keeps hundreds of thousands of small objects alive (open cascades, the reorder buffer), and
# at the collector's default first threshold it walks the young ones over and over. Objects here rarely
# form cycles, so collecting less often frees as much; at this threshold most records have left the
# reorder buffer before a collection walks them (measurements in docs/performance.md).
GC_EVERY = 500_000


@dataclass
class ReplaySummary:
    lines: int = 0
    bad_lines: int = 0
    late: int = 0                     # records older than ones already replayed, past the reorder buffer
    mentions: int = 0
    new: int = 0
    updated: int = 0
    dropped: int = 0
    alerts: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    seconds: float = 0.0

    def describe(self) -> str:
        span = f"{self.first:%Y-%m-%d %H:%M} .. {self.last:%Y-%m-%d %H:%M} UTC" if self.first and self.last else "-"
        names = ", ".join(f"{k} {v}" for k, v in sorted(self.decisions.items())) or "none"
        rate = self.mentions / self.seconds if self.seconds else 0.0
        return (f"replayed {self.mentions} mentions ({span}) in {self.seconds:.1f}s, {rate:.0f}/s: "
                f"{self.new} tracked, {self.updated} seen again, {self.dropped} not ours; "
                f"{self.bad_lines} bad lines, {self.late} late; {self.alerts} alerts; decisions: {names}")


def read_records(stream: IO[str] | IO[bytes], summary: ReplaySummary, warn: Callable[[str], None]
                 ) -> Iterator[Mention]:
    """Mention records from JSONL (text, or bytes read as UTF-8); a bad line is reported with its
    number and a reason (one ``warn`` each), counted in ``summary.bad_lines``, and skipped. A line
    longer than ``MAX_LINE`` is one of them: it is read past in pieces, never held whole."""
    for number, raw in enumerate(_lines(stream), 1):
        summary.lines += 1
        if raw is None:
            summary.bad_lines += 1
            warn(f"line {number}: skipped: longer than {MAX_LINE:,} bytes")
            continue
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                summary.bad_lines += 1
                warn(f"line {number}: skipped: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
                continue
        else:
            line = str(raw)
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            yield Mention.from_text(line)
        except (json.JSONDecodeError, RecordError) as exc:
            summary.bad_lines += 1
            warn(f"line {number}: skipped: {str(exc)[:200]}")


def _lines(stream: IO[str] | IO[bytes]) -> Iterator[str | bytes | None]:
    """Each line of ``stream`` with its newline, or None for one longer than ``MAX_LINE`` (the rest of
    it read and dropped piece by piece)."""
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE:
            yield raw
            continue
        while raw and raw[-1:] not in ("\n", b"\n"):
            raw = stream.readline(MAX_LINE)
        yield None


def in_observed_order(records: Iterable[Mention], summary: ReplaySummary, buffer: int = 50_000
                      ) -> Iterator[Mention]:
    """Records sorted by observed_at through a bounded reorder buffer (memory stays flat).

    A record older than one already released is replayed at once and counted as late. While records
    come in order (an export always does), the buffer is a queue; the first one out of order turns
    it into a heap. Either releases the earliest record, the first read among equal times.
    """
    queue: deque[tuple[datetime, int, Mention]] = deque()
    heap: list[tuple[datetime, int, Mention]] | None = None
    released: datetime | None = None
    newest: datetime | None = None

    def release(entry: tuple[datetime, int, Mention]) -> Mention:
        nonlocal released
        t, _, m = entry
        if released is not None and t < released:
            summary.late += 1
        released = t if released is None or t > released else released
        return m

    for seq, m in enumerate(records):
        entry = (m.observed_at, seq, m)
        if heap is None and (newest is None or entry[0] >= newest):
            newest = entry[0]
            queue.append(entry)
            if len(queue) > buffer:
                yield release(queue.popleft())
            continue
        if heap is None:
            heap = list(queue)  # sorted already: a valid heap
            queue.clear()
        heapq.heappush(heap, entry)
        if len(heap) > buffer:
            yield release(heapq.heappop(heap))
    while queue:
        yield release(queue.popleft())
    while heap:
        yield release(heapq.heappop(heap))


def _tick_after(t: datetime, every: timedelta) -> datetime:
    step = every.total_seconds() or 1.0
    n = (t - _EPOCH).total_seconds() // step + 1
    return _EPOCH + timedelta(seconds=n * step)


def run_replay(records: Iterable[Mention], pipeline: Pipeline, clock: SimulatedClock,
               emit: Callable[[Decision], None], *, summary: ReplaySummary | None = None,
               progress: Callable[[ReplaySummary], None] | None = None, batch_size: int = 1000,
               progress_every: float = 5.0, commit_every: int = COMMIT_EVERY) -> ReplaySummary:
    """Replay ``records`` (already in observed order) and return what happened.

    Writes are committed every ``commit_every`` mentions, not at every tick as the daemon does: a
    replay is a backtest, and a commit per simulated tick cost more than scoring. An interrupted
    replay keeps what was committed; the rest is rolled back. A replay into an empty database builds
    the secondary indexes of its mentions at its end (see monitor/store/indexes.py); its time counts.
    """
    summary = summary or ReplaySummary()
    started = time.monotonic()
    with (_collect_every(GC_EVERY), indexes.deferred(pipeline.store, MIGRATIONS),
          _Grouped(pipeline.store, commit_every) as group):
        _replay(records, pipeline, clock, emit, summary, progress, batch_size, progress_every, group)
    summary.seconds = time.monotonic() - started
    return summary


@contextmanager
def _collect_every(allocations: int) -> Iterator[None]:
    """The garbage collector's first threshold at ``allocations`` for a while, then as it was."""
    old = gc.get_threshold()
    gc.set_threshold(allocations, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


class _Grouped:
    """Ticks' transactions joined into one, committed (and a new one begun) at ``due`` after ``every``
    mentions; rolled back if the replay fails."""

    def __init__(self, store: Store, every: int):
        self.store, self.every = store, every
        self._tx: AbstractContextManager[object] | None = None
        self._pending = 0

    def __enter__(self) -> _Grouped:
        self._begin()
        return self

    def __exit__(self, *exc: Any) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            tx.__exit__(*exc)

    def _begin(self) -> None:
        self._tx = self.store.transaction()
        self._tx.__enter__()

    def written(self, mentions: int) -> None:
        self._pending += mentions
        if self._pending >= self.every:
            self._pending = 0
            self.__exit__(None, None, None)
            self._begin()


def _replay(records: Iterable[Mention], pipeline: Pipeline, clock: SimulatedClock,
            emit: Callable[[Decision], None], summary: ReplaySummary,
            progress: Callable[[ReplaySummary], None] | None, batch_size: int, progress_every: float,
            group: _Grouped) -> None:
    every = pipeline.config.settings.detection.every
    started = last_progress = time.monotonic()
    batch: list[Mention] = []
    next_tick: datetime | None = None

    def flush() -> None:
        if batch:
            clock.set(batch[-1].observed_at)
            r = pipeline.ingest(batch)
            summary.new, summary.updated, summary.dropped = (summary.new + r.new, summary.updated + r.updated,
                                                             summary.dropped + r.dropped)
            group.written(len(batch))
            batch.clear()

    def detect(at: datetime) -> None:
        clock.set(at)
        for d in pipeline.detect():
            summary.decisions[d.name] = summary.decisions.get(d.name, 0) + 1
            if d.level is not None:
                summary.alerts += 1
                emit(d)

    for m in records:
        summary.mentions += 1
        summary.first = summary.first or m.observed_at
        summary.last = m.observed_at if summary.last is None or m.observed_at > summary.last else summary.last
        if next_tick is None:
            next_tick = _tick_after(m.observed_at, every)
        if m.observed_at >= next_tick:
            flush()
            detect(next_tick)
            next_tick = _tick_after(m.observed_at, every)
        batch.append(m)
        if len(batch) >= batch_size:
            flush()
        if progress and time.monotonic() - last_progress >= progress_every:
            last_progress = time.monotonic()
            summary.seconds = last_progress - started
            progress(summary)
    flush()
    if next_tick is not None:
        detect(next_tick)
