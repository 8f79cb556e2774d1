"""Pipeline throughput: ``monitor replay`` on a simulated file, next to VADER alone on the same texts.

The replay runs as its own process (the real command), so its peak RSS is its own; VADER runs here
on the very texts the replay scores (``Mention.full_text``), before and after the replays, so a
machine that got busier in between shows as two different VADER figures. The replay runs twice: as
it does by default (texts scored ahead by a worker on each spare core) and in one process
(``--workers 0``), which is the like-for-like comparison with single-threaded VADER.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.simulate import SimSettings, write_config
from devkit.zoo import simulation
from monitor.records.mention import Mention
from monitor.scoring.ahead import default_workers

_SUMMARY = re.compile(r"replayed (\d+) mentions .* in ([\d.]+)s, (\d+)/s: .*?(\d+) alerts")


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


@dataclass
class Corpus:
    path: Path
    config: Path
    mentions: int
    storms: int


def simulated_file(out: Path, mentions: int, *, seed: int = 1, brands: int = 8, days: float = 7,
                   family: str = "branching", strict: bool = True) -> Corpus:
    """A JSONL file of at least ``mentions`` simulated mentions of ``family`` (reused when already there);
    ``strict=False``: about that many (families bring different numbers of reactions per root)."""
    folder = out / (f"replay-{mentions}-s{seed}-b{brands}" + ("" if family == "branching" else f"-{family}"))
    path, meta = folder / "mentions.jsonl", folder / "meta.json"
    # The simulator lands within some 15% of the size asked for; ask for more, so the file holds at least
    # ``mentions`` (checked below).
    sim = simulation(family, SimSettings(days=days, seed=seed, brands=brands, mentions=int(mentions * 1.2)))
    config = write_config(folder, sim.brands, sim.vips, database=str(folder / "unused.db"))
    if meta.exists() and path.exists():
        m = json.loads(meta.read_text())
        log(f"reusing {path} ({m['mentions']} mentions)")
        return Corpus(path, config, m["mentions"], m["storms"])
    log(f"simulating {mentions} mentions ({brands} brands, {days:g} days) into {path} ...")
    started = time.monotonic()
    tmp = path.with_suffix(".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in sim.records():
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            if n % 200_000 == 0:
                log(f"  ... {n} mentions simulated")
    if strict and n < mentions:
        raise RuntimeError(f"the simulator produced {n} mentions, fewer than the {mentions} asked for")
    tmp.replace(path)
    storms = sum(1 for c in sim.truth.cascades if c.get("storm"))
    meta.write_text(json.dumps({"mentions": n, "storms": storms}))
    log(f"simulated {n} mentions in {time.monotonic() - started:.0f}s")
    return Corpus(path, config, n, storms)


def texts_of(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [Mention.from_text(line).full_text for line in f if line.strip()]


def vader_alone(texts: list[str]) -> float:
    """Texts a second through VADER's polarity_scores alone (nothing else timed)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    score = vader.polarity_scores
    started = time.perf_counter()
    for t in texts:
        score(t)
    return len(texts) / (time.perf_counter() - started)


def run_replay(corpus: Corpus, out: Path, workers: int | None = None, database: str | None = None) -> dict[str, Any]:
    """``monitor replay`` as a subprocess: its own summary, wall time and peak RSS (wait4; the largest of
    the replay and its scoring workers). ``workers``: its --workers (None: its default); ``database``: a
    postgresql:// URL to replay into (default: a SQLite file in ``out``)."""
    db = out / "replay.db"
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        p.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "monitor", "replay", str(corpus.path), "--config", str(corpus.config),
           "--database", database or str(db)] + ([] if workers is None else ["--workers", str(workers)])
    log("replaying: " + " ".join(cmd[1:]))
    started = time.monotonic()
    with open(out / "replay-decisions.jsonl", "wb") as decisions:
        proc = subprocess.Popen(cmd, stdout=decisions, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        summary = ""
        for line in proc.stderr:
            line = line.rstrip()
            if "replayed " in line:
                summary = line
            log("  " + line.removeprefix("monitor replay: "))
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"monitor replay failed with code {proc.returncode}")
    m = _SUMMARY.search(summary)
    if not m:
        raise RuntimeError(f"no summary from monitor replay: {summary!r}")
    mentions, seconds = int(m.group(1)), float(m.group(2))
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        p.unlink(missing_ok=True)
    return {"mentions": mentions, "seconds": seconds, "rate": mentions / seconds, "wall": wall,
            "alerts": int(m.group(4)), "peak_rss_mb": usage.ru_maxrss / 1024, "summary": summary,
            "workers": default_workers() if workers is None else workers,
            "cpu_seconds": usage.ru_utime + usage.ru_stime}


def throughput(out: Path, mentions: int) -> dict[str, Any]:
    corpus = simulated_file(out, mentions)
    log("reading the texts for VADER alone ...")
    texts = texts_of(corpus.path)
    unique = len(set(texts))
    log(f"VADER alone on {len(texts)} texts (before the replays) ...")
    before = vader_alone(texts)
    replay = run_replay(corpus, out)
    log("the same replay scoring in its own process (--workers 0) ...")
    alone = run_replay(corpus, out, workers=0)
    log(f"VADER alone on {len(texts)} texts (after the replays) ...")
    after = vader_alone(texts)
    vader = (before + after) / 2
    return {"mentions": corpus.mentions, "unique_texts": unique, "vader_before": before, "vader_after": after,
            "vader": vader, "replay": replay, "ratio": replay["rate"] / vader,
            "replay_one_process": alone, "ratio_one_process": alone["rate"] / vader}
