"""A small PNG of a storm for its thread: reactions over time, the projection and the threshold.

matplotlib with its Agg backend (no display, no GUI toolkit), one figure per call, closed after:
pyplot's global figure registry is not used, so charts drawn from two threads cannot mix. The
alert line's ``growth`` histogram (reactions per ``growth_bucket``, the last bins up to the latest reaction)
is drawn cumulatively, ending at the storm's size; the projected final size and the threshold are
horizontal lines. Returns None when the alert line has no growth to draw (spikes, old lines).
"""

from __future__ import annotations

import io
import re
from typing import Any


def _bucket_minutes(text: Any) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|min|m|h)\s*", str(text or ""))
    if not m:
        return 10.0
    n, unit = float(m.group(1)), m.group(2)
    return n / 60 if unit == "s" else n * 60 if unit == "h" else n


def storm_chart(d: dict[str, Any]) -> bytes | None:
    """The chart of alert line ``d`` as PNG bytes, or None when there is nothing to draw."""
    growth = d.get("growth")
    size = d.get("reactions")
    if not isinstance(growth, list) or not growth or not isinstance(size, int | float) or d.get("kind") == "spike":
        return None
    counts = [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0 for v in growth]
    from matplotlib.figure import Figure  # imported here: only a daemon that draws pays for it

    width = _bucket_minutes(d.get("growth_bucket"))
    n = len(counts)
    total = float(size) - sum(counts)
    xs, ys = [-n * width], [max(0.0, total)]
    for k, c in enumerate(counts):
        total += c
        xs.append(-(n - k - 1) * width)
        ys.append(max(0.0, total))
    fig = Figure(figsize=(6, 3), dpi=100)
    ax = fig.add_subplot()
    ax.plot(xs, ys, color="#1d4ed8", linewidth=2, label="reactions")
    threshold, projected = d.get("threshold"), d.get("projected")
    if isinstance(projected, int | float) and projected > 0:
        ax.axhline(projected, color="#f59e0b", linestyle="--", label=f"projected ~{projected:,.0f}")
    if isinstance(threshold, int | float) and threshold > 0:
        ax.axhline(threshold, color="#dc2626", linestyle=":", label=f"threshold {threshold:,.0f}")
    ax.set_xlabel("minutes before the latest reaction")
    ax.set_ylabel("reactions")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
