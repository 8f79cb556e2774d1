"""A pass that runs soon after it is asked for, debounced, and never twice at once.

The daemon judges cascades right after the poll that grew them, not only on the ``detection.every``
tick: each such poll calls ``poke()``, and one pass runs ``delay`` seconds after the first poke, so
the sources that finish their polls within that interval share one pass. The delay is counted from
the first poke, not the last, so a steady stream of polls cannot put the pass off for ever. The tick
calls ``run()``; a pass in progress is waited for (passes never overlap), and a poked pass not yet
begun is folded into it, since the tick's pass sees everything stored before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from monitor.clock import Clock

log = logging.getLogger(__name__)


class Debounced:
    """``action`` run through ``run()`` (the tick) or ``delay`` seconds after ``poke()`` (a poll)."""

    def __init__(self, action: Callable[[], Awaitable[None]], delay: float, clock: Clock):
        self.action = action
        self.delay = max(0.0, delay)
        self.clock = clock
        self.runs = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()   # timers whose pass is under way, kept from the GC

    @property
    def due(self) -> bool:
        """A poked pass is waiting for its delay (or for a pass in progress)."""
        return self._timer is not None

    @property
    def idle(self) -> bool:
        """No pass is waiting or under way."""
        return self._timer is None and not self._lock.locked()

    def poke(self) -> None:
        """Ask for a pass within ``delay`` seconds; a pass already asked for covers this call too.

        Called from the event loop's thread (a poll job); raises RuntimeError outside a running loop.
        """
        if self._timer is None and not self._closed:
            self._timer = asyncio.get_running_loop().create_task(self._after_delay(), name="debounced pass")
            self._tasks.add(self._timer)
            self._timer.add_done_callback(self._tasks.discard)

    async def _after_delay(self) -> None:
        await self.clock.sleep(self.delay)
        try:
            await self.run()
        except Exception:  # a failed pass must not end the timer silently; the tick tries again
            log.exception("detection pass after a poll failed; the next tick runs it again")

    async def run(self) -> None:
        """Run the action now, once any pass in progress is done. Raises what the action raises."""
        async with self._lock:
            timer, me = self._timer, asyncio.current_task()
            # Pokes from here on need a pass of their own: this one may already have read past them.
            self._timer = None
            if timer is not None and timer is not me:
                timer.cancel()  # not begun yet, or waiting for the lock: this pass covers its poke
            self.runs += 1
            await self.action()

    async def close(self) -> None:
        """On stop: run a pass that was asked for now rather than drop it, wait for one in progress,
        and refuse pokes from then on (a poll still finishing must not start a pass on a closed store)."""
        self._closed = True
        if self._timer is not None:
            await self.run()
        async with self._lock:
            pass
