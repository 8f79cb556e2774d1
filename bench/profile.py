"""Where ``monitor replay`` spends its time: cProfile over an in-process replay of a simulated file.

The file is a whole simulated week (like the throughput one, at a tenth of its volume), so the
detector sees days of open cascades, not the first hours of the week.

Prints the share of each stage (parse, link, score, store, detect) and the top functions by own
time; the full listing goes to bench/out/profile.txt.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import tempfile
from pathlib import Path
from typing import Any

from monitor.clock import SimulatedClock
from monitor.config.settings import load_config
from monitor.engine.pipeline import Pipeline
from monitor.replay import ReplaySummary, in_observed_order, read_records, run_replay
from monitor.store.database import Store

STAGES = {  # stage -> (file suffix, function name) whose cumulative time stands for it
    "parse JSON into records": ("monitor/replay.py", "read_records"),
    "score (VADER + complaint model)": ("monitor/scoring/scores.py", "score"),
    "link to cascades": ("monitor/cascades/link.py", "link"),
    "store (SQLite writes)": ("monitor/store/database.py", "write_mentions"),
    "detect": ("monitor/engine/pipeline.py", "detect"),
}


def profile_replay(path: Path, config_path: Path, out: Path) -> dict[str, Any]:
    config = load_config(config_path)
    with tempfile.TemporaryDirectory(prefix="monitor-bench-prof-") as tmp:
        store = Store(Path(tmp) / "p.db", durable=False)  # as monitor replay opens it
        clock = SimulatedClock()
        pipeline = Pipeline(config, store, clock, deliver=False)
        summary = ReplaySummary()
        prof = cProfile.Profile()
        with open(path, encoding="utf-8") as f:
            prof.enable()
            run_replay(in_observed_order(read_records(f, summary, lambda m: None), summary), pipeline, clock,
                       lambda d: None, summary=summary)  # type: ignore[arg-type]
            prof.disable()
        store.close()
    stats = pstats.Stats(prof)
    total = max(1e-9, sum(v[2] for v in stats.stats.values()))  # type: ignore[attr-defined]
    cum: dict[str, float] = {}
    for (file, _, func), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        for stage, (suffix, name) in STAGES.items():
            if file.endswith(suffix) and func == name:
                cum[stage] = max(cum.get(stage, 0.0), ct)
    wall = max(ct for (_, _, _, ct, _) in stats.stats.values())  # type: ignore[attr-defined]
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(40)
    (out / "profile.txt").write_text(buf.getvalue())
    top = sorted(((v[2], k) for k, v in stats.stats.items()), reverse=True)[:8]  # type: ignore[attr-defined]
    return {"mentions": summary.mentions, "seconds_profiled": wall, "stages": {k: v / wall for k, v in cum.items()},
            "top": [(f"{Path(k[0]).parent.name}/{Path(k[0]).name}:{k[1]}({k[2]})", t / total) for t, k in top]}
