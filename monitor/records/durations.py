"""Durations as people read them ("30m", "2h", "1h30m"), and how long to wait before a retry.

Pure functions of their arguments, so every stage may use them: the detector names a spike's window,
the sender and the sources back off, the daemon and the health checks log intervals.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Literal

DurationStyle = Literal["parts", "unit", "clock"]

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration_text(value: timedelta | float, style: DurationStyle = "parts", *, largest: str = "d") -> str:
    """A duration (a timedelta, or seconds) as text, in whole seconds (fractions are dropped).

    Each style is what one part of monitor has always written, so no message changes:

    * ``"parts"``: every non-zero unit, days down to seconds: 5400 s -> ``1h30m``, 0 -> ``0s``
      (the cooldown in a deferred alert's reason);
    * ``"unit"``: one number in the largest unit, at most ``largest`` (``"h"`` or ``"m"``), that holds
      it whole: 7200 s -> ``2h``, 5400 s -> ``90m``, 45 s -> ``45s``; 0 -> ``0s``
      (a spike's window and the growth bucket with ``largest="h"``, poll intervals with ``"m"``);
    * ``"clock"``: whole minutes, as hours and two-digit minutes from an hour on: 65 min -> ``1h05m``,
      5 min -> ``5m`` (how long a source has failed or been quiet).
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if style == "clock":
        minutes = int(seconds // 60)
        return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
    s = int(seconds)
    if style == "unit":
        units = [(u, n) for u, n in _UNITS if n <= dict(_UNITS)[largest]]
        return next((f"{s // n}{u}" for u, n in units if s >= n and s % n == 0), f"{s}s")
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    return "".join(f"{n}{u}" for n, u in parts if n) or "0s"


def backoff_delay(failures: int, *, base: float, cap: float, rng: random.Random,
                  jitter: tuple[float, float]) -> float:
    """Seconds to wait after ``failures`` failures in a row: base, 2*base, 4*base, ... up to ``cap``,
    times a factor drawn uniformly from ``jitter`` by the injected ``rng`` (one draw per call).

    Jitter spreads the retries of many failing feeds, channels or daemons so that they do not all
    return at once. Each caller states its range: the sources take +-20% around the schedule
    (``(0.8, 1.2)``: a poll has no deadline, so overshooting the cap a little is harmless); the
    Slack sender takes ``(0.5, 1.0)``, so a retry never waits longer than its cap and the delivery
    deadline is reckoned against a known longest wait.
    """
    exponent = max(0, min(failures - 1, 30))
    return min(cap, base * (2**exponent)) * rng.uniform(*jitter)
