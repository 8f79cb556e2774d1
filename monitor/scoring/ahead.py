"""Scoring ahead in worker processes, for replays: the costliest stage off the pipeline's own core.

A replay reads its records well ahead of ingesting them (the reorder buffer holds 50,000), so their
texts can be scored by the time the pipeline asks. ``ScoreAhead`` is a ``Scorer`` to hand to the
``Pipeline``: ``see(mention)`` queues the mention's text for a worker, and ``score(text)`` returns the
worker's result when there is one, or scores here when there is not (a text never seen ahead, or
whose chunk is not back yet). A score is a pure function of the text, so results are the very ones
this process would compute, whichever process computed them.

Posts are scored with their cues (they become roots); other kinds without (reactions' cues are never
shown). A text asked for the other way (a reply that turns out to be a root) is scored here.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from monitor.records.mention import Mention
from monitor.scoring.complaint import ComplaintScore
from monitor.scoring.scores import Scorer, Scores

START_AFTER = 5_000  # mentions seen before workers start: a short replay is over before they would be up
CHUNK = 256          # texts a worker scores per task
# A text is asked for some 50,000 records after it is seen (the reorder buffer), by then about 15,000
# more distinct texts have come back; results and sent texts are remembered with room to spare.
KEEP = 50_000        # results kept for texts not asked for yet (about 0.3 KB each); oldest dropped first
SEEN = 50_000        # texts remembered as already sent, so a repeated text is not scored twice

log = logging.getLogger(__name__)
_worker: Scorer | None = None  # one per worker process, built by its initialiser


def default_workers() -> int:
    """One worker per spare core: the pipeline keeps one for itself."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def _start_worker() -> None:
    global _worker  # a worker process's own scorer: built once there, never in the parent
    _worker = Scorer()


_Result = tuple[float, float, bool, bool, str | None, tuple[str, ...]]  # Scores, flat: cheap to pickle


def _score_chunk(chunk: list[tuple[str, bool]]) -> list[_Result]:
    assert _worker is not None
    out = []
    for text, explain in chunk:
        s = _worker.score(text, explain=explain)
        c = s.complaint
        out.append((s.sentiment, c.probability, c.is_complaint, c.specific, c.category, c.cues))
    return out


class ScoreAhead(Scorer):
    """A Scorer that takes scores worked out ahead by ``workers`` processes (none: it is a plain Scorer)."""

    def __init__(self, workers: int | None = None):
        super().__init__()
        self.workers = default_workers() if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._seen = 0
        self._queued: list[tuple[str, bool]] = []
        self._inflight: deque[tuple[list[tuple[str, bool]], Future[Any]]] = deque()
        # Both forget their oldest first. OrderedDict, not dict: a dict's oldest key, after many removed
        # before it, takes a walk over their empty slots to find, and the oldest is asked for at every text.
        self._ready: OrderedDict[tuple[str, bool], Scores] = OrderedDict()  # (text, explained) -> scores
        self._sent: OrderedDict[tuple[str, bool], None] = OrderedDict()
        self.ahead = self.here = 0  # texts scored by the workers, and here

    def see(self, m: Mention) -> None:
        """Queue ``m``'s text for a worker (once per text while it is remembered). The texts of the first
        ``START_AFTER`` mentions wait in the queue, and go to the workers once they have started: the
        reorder buffer holds them long enough for their scores to be back before they are asked for."""
        if self.workers <= 0:
            return
        key = (m.full_text, m.kind == "post")
        if key not in self._sent:
            self._sent[key] = None
            if len(self._sent) > SEEN:
                self._sent.popitem(last=False)
            self._queued.append(key)
        if self._pool is None:
            self._seen += 1
            if self._seen <= START_AFTER:
                return
            # Spawned, not forked: the caller may have threads (a lock held across a fork never opens).
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker)
        if len(self._queued) >= CHUNK:
            self._submit()

    def seeing(self, records: Iterable[Mention]) -> Iterator[Mention]:
        """``records`` unchanged, each seen on the way (put this before the reorder buffer)."""
        for m in records:
            self.see(m)
            yield m
        if self._queued:
            self._submit()

    def score(self, text: str, *, explain: bool = True) -> Scores:
        if self._inflight and self._inflight[0][1].done():
            self._collect()
        found = self._ready.get((text, explain))
        if found is not None:
            self.ahead += 1
            return found
        self.here += 1
        return super().score(text, explain=explain)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _submit(self) -> None:
        """Send what is queued, ``CHUNK`` texts a task (without workers, drop it: it is scored here)."""
        queued, self._queued = self._queued, []
        if self._pool is None:
            return
        for i in range(0, len(queued), CHUNK):
            chunk = queued[i:i + CHUNK]
            try:
                self._inflight.append((chunk, self._pool.submit(_score_chunk, chunk)))
            except (BrokenProcessPool, RuntimeError) as exc:
                self._give_up(exc)
                return

    def _give_up(self, exc: BaseException) -> None:
        """A worker died or could not start: score everything here from now on (slower, same scores)."""
        log.warning("scoring ahead stopped (%s: %s); scoring in this process", type(exc).__name__, exc)
        self.workers = 0
        self._inflight.clear()
        self._queued = []
        self.close()

    def _collect(self) -> None:
        """Take in the chunks that are back, in order; stop at the first still out."""
        while self._inflight and self._inflight[0][1].done():
            chunk, fut = self._inflight.popleft()
            try:
                results = fut.result()
            except Exception as exc:  # noqa: BLE001 - whatever broke the worker, the replay goes on
                self._give_up(exc)
                return
            ready = self._ready
            # Built once per text here, not once per mention that asks: reposts and copies repeat a text.
            ready.update((key, Scores(sentiment, ComplaintScore(p, is_c, specific, category, cues)))
                         for key, (sentiment, p, is_c, specific, category, cues) in zip(chunk, results, strict=True))
            while len(ready) > KEEP:
                ready.popitem(last=False)

    def __enter__(self) -> ScoreAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
