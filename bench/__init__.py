"""``make bench``: the performance figures, each a ratio or a side-by-side measurement from one run.

- ``bench.throughput``: mentions a second through ``monitor replay`` next to VADER alone on the same
  texts, and the replay's peak RSS;
- ``bench.polling``: one poll cycle over 1,000 feeds on local servers, first and all-304;
- ``bench.soak``: the daemon against stand-ins for minutes (RSS over time) and the alert latency from
  a storm crossing its threshold to the Slack stand-in receiving the alert;
- ``bench.detection``: detection quality against a tuned baseline (its own module);
- ``bench.profile``: where the replay spends its time (cProfile).

Everything runs on 127.0.0.1; outputs go to bench/out/.
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
