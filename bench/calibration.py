"""Is ``p_storm`` a probability? Calibration, and what each ``alert.sensitivity`` costs and gains.

A replay records every storm probability the detector works out for a complaint cascade before its
first alert (``Detector.on_judged``). Two things are then read off the same replays, with no second
run:

- **calibration**: the judged cascades bucketed by the probabilities they were given while still
  below the threshold; a cascade counts once in each bucket it was given a probability in, and the
  table shows what share of each bucket's cascades became storms. A calibrated detector's 0.6-0.8
  bucket holds about 70% storms;
- **each sensitivity**: the first alert is decided by the probability alone (``p_storm`` at or above
  the setting's, or the threshold reached), so it can be worked out for every setting from the same
  judgements: storms caught, caught before the threshold, median share of the threshold at the first
  alert, false alerts per watch-list per week, each next to the trailing-hour baseline tuned in
  hindsight to the same number of false alerts.

The replays themselves run at sensitivity ``normal``: its alert lines are real; the other settings'
figures are what those judgements would have decided.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config.settings import SENSITIVITY

BINS = (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0001)


@dataclass
class Judgements:
    """(week seed, root id) -> [(reactions, p_storm)] in the order they were judged."""

    seen: dict[tuple[str, int, str], list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    watchlist: dict[tuple[str, int, str], str] = field(default_factory=dict)

    def recorder(self, family: str, seed: int) -> Any:
        """The ``Detector.on_judged`` callback for one week."""
        seen, watchlists = self.seen, self.watchlist

        def record(watchlist: str, root_id: str, now: Any, reactions: int, projection: Any, p: float) -> None:
            key = (family, seed, root_id)
            watchlists[key] = watchlist
            seen[key].append((reactions, p))

        return record


def _limit(c: dict[str, Any], threshold: int) -> int:
    return max(1, threshold // 5) if c["vip_root"] else threshold


def _truth(weeks: Sequence[Any], threshold: int) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(w.family, w.seed, c["root_id"]): c | {"limit": _limit(c, threshold)}
            for w in weeks for c in w.truth.cascades}


def calibration(weeks: Sequence[Any], judged: Judgements, threshold: int = 300) -> list[dict[str, Any]]:
    """Per probability bucket: cascades given a probability in it while below the threshold, and storms."""
    truth = _truth(weeks, threshold)
    rows = []
    for lo, hi in zip(BINS, BINS[1:], strict=False):
        n = storms = 0
        for key, seq in judged.seen.items():
            c = truth.get(key)
            limit = c["limit"] if c else threshold
            if any(lo <= p < hi for size, p in seq if size < limit):
                n += 1
                storms += bool(c and c["storm"])
        rows.append({"from": lo, "to": min(hi, 1.0), "cascades": n, "storms": storms,
                     "share": round(storms / n, 3) if n else None})
    return rows


def first_judgements(weeks: Sequence[Any], judged: Judgements, p_alert: float, threshold: int = 300
                     ) -> dict[tuple[str, int, str], tuple[int, float]]:
    """(reactions, p_storm) at the first alert each judged cascade would get at probability ``p_alert``:
    its first judgement at or above it, or at or past its threshold."""
    truth = _truth(weeks, threshold)
    out = {}
    for key, seq in judged.seen.items():
        c = truth.get(key)
        limit = c["limit"] if c else threshold
        for size, p in seq:
            if size >= limit or p >= p_alert:
                out[key] = (size, p)
                break
    return out


def first_alert_sizes(weeks: Sequence[Any], judged: Judgements, p_alert: float, threshold: int = 300
                      ) -> dict[tuple[str, int, str], int]:
    """Reactions at the first alert each judged cascade would get at probability ``p_alert``."""
    return {k: size for k, (size, _) in first_judgements(weeks, judged, p_alert, threshold).items()}


def by_sensitivity(weeks: Sequence[Any], judged: Judgements, threshold: int = 300,
                   baseline: Any = None, levels: dict[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """For each ``alert.sensitivity``: the first alerts its probability would give, scored as bench.detection
    scores them, next to the trailing-hour baseline with the same number of false alerts (``baseline`` is
    bench.detection.baseline_alerts)."""
    truth = _truth(weeks, threshold)
    storms = {k for k, c in truth.items() if c["storm"]}
    wl_weeks = sum(len(w.truth.brands) for w in weeks)  # simulated weeks are 7 days
    out = {}
    for name, p_alert in (levels or SENSITIVITY).items():
        sizes = first_alert_sizes(weeks, judged, p_alert, threshold)
        hits = {k: s for k, s in sizes.items() if k in storms}
        false = len(sizes) - len(hits)
        shares = [s / truth[k]["limit"] for k, s in hits.items()]
        per_week = Counter((k[0], k[1], judged.watchlist.get(k)) for k in sizes if k not in storms)
        row: dict[str, Any] = {
            "p_alert": p_alert, "storms": len(storms), "caught": len(hits),
            "before_threshold": sum(s < 1 for s in shares),
            "median_share": round(statistics.median(shares), 3) if shares else None,
            "false_alerts": false, "false_per_watchlist_week": round(false / wl_weeks, 2) if wl_weeks else None,
            "max_false_in_one_watchlist_week": max(per_week.values(), default=0),
        }
        if baseline is not None:
            row["baseline"], base_hits = _baseline(weeks, truth, storms, false, threshold, baseline)
            # The medians above are over different storms when one catches storms the other misses (a
            # slow storm only the detector catches pulls its median up): here, over the storms both caught.
            both = sorted(set(hits) & set(base_hits))
            row["both_caught"] = {"storms": len(both), "median_share": _median_share(hits, both, truth),
                                  "baseline_median_share": _median_share(base_hits, both, truth)}
        out[name] = row
    return out


def _median_share(sizes: dict[Any, int], keys: Sequence[Any], truth: dict[Any, dict[str, Any]]) -> float | None:
    """The median of ``sizes`` over ``keys``, each as a share of its cascade's limit (None for no keys)."""
    return round(statistics.median(sizes[k] / truth[k]["limit"] for k in keys), 3) if keys else None


def _baseline(weeks: Sequence[Any], truth: dict[tuple[str, int, str], dict[str, Any]], storms: set[Any],
              budget: int, threshold: int, alerts_of: Any) -> tuple[dict[str, Any], dict[tuple[str, int, str], int]]:
    """The trailing-hour rule with the smallest N giving at most ``budget`` false alerts: its figures, and
    the reactions at its alert on each storm it caught."""
    for n in range(5, 2001):
        hits, false = {}, 0
        for w in weeks:
            for rid, size in alerts_of(w, n, threshold).items():
                key = (w.family, w.seed, rid)
                if key in storms:
                    hits[key] = size
                else:
                    false += 1
        if false <= budget:
            shares = [s / truth[k]["limit"] for k, s in hits.items()]
            median = round(statistics.median(shares), 3) if shares else None
            wl_weeks = sum(len(w.truth.brands) for w in weeks)
            return {"n": n, "caught": len(hits), "false_alerts": false, "median_share": median,
                    "median_earliness": median, "before_threshold": sum(s < 1 for s in shares),
                    "false_per_watchlist_week": round(false / wl_weeks, 2) if wl_weeks else None}, hits
    return {}, {}


def calibration_table(rows: list[dict[str, Any]]) -> str:
    lines = ["p_storm given    cascades  became storms"]
    for r in rows:
        share = "-" if r["share"] is None else f"{r['share']:.0%}"
        lines.append(f"{r['from']:.2f}-{r['to']:.2f}      {r['cascades']:>8}  {r['storms']:>5} ({share})")
    return "\n".join(lines)
