"""The commands: run, check-config, replay, export, score, status (plus test-alert and silence).

Errors become user messages here and nowhere else: a MonitorError prints what happened and what
to do, and the exit code is 2 for bad config or input, 1 for anything else that went wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from monitor import __version__
from monitor.alerts.cli import register
from monitor.config.settings import Config, default_config_path, load_config, parse_duration
from monitor.errors import ConfigError, MonitorError
from monitor.records.mention import Mention, parse_time

log = logging.getLogger("monitor")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None,
                   help=f"settings file (default: $MONITOR_CONFIG or {default_config_path({})})")


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def cmd_check_config(args: argparse.Namespace) -> int:
    from monitor.config.writable import database_problems
    from monitor.daemon import load_checked

    config = load_checked(args.config)
    problems = database_problems(config)
    if problems:
        raise ConfigError(problems)
    wl = config.watchlists
    print(f"{config.path}: ok; database {config.database_path}; {len(wl)} watch-list(s): "
          f"{', '.join(sorted(wl)) or 'none'}")
    for name, w in sorted(wl.items()):
        print(f"  {name}: {len(w.terms)} terms, {len(w.exclude)} exclusions, {len(w.feeds)} feeds, "
              f"channel {config.channel_for(name)}, spread_threshold {w.alert.spread_threshold}")
    return 0


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes (0 scores in the replay's own)")
    return n


def cmd_replay(args: argparse.Namespace) -> int:
    from monitor.clock import SimulatedClock
    from monitor.config.settings import is_database_url
    from monitor.engine.pipeline import Pipeline, decision_line
    from monitor.replay import ReplaySummary, in_observed_order, read_records, run_replay
    from monitor.scoring.ahead import ScoreAhead
    from monitor.store.database import Store

    config = _load(args)
    # Bytes: a line that is not UTF-8 is skipped with its number, not the end of the replay.
    if args.events == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(args.events, "rb")  # noqa: SIM115
        except OSError as exc:
            print(f"monitor replay: cannot read {args.events}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        mode = os.fstat(stream.fileno()).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):  # /dev/zero never ends, and has no lines to skip
            stream.close()
            print(f"monitor replay: {args.events} is a device, not a file of records", file=sys.stderr)
            return 2
    tmp = None
    db_path: str | Path
    if args.database:
        db_path = args.database if is_database_url(args.database) else Path(args.database)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="monitor-replay-")
        db_path = Path(tmp.name) / "replay.db"
    summary = ReplaySummary()

    def warn(msg: str) -> None:
        print(f"monitor replay: {msg}", file=sys.stderr)

    def progress(s: ReplaySummary) -> None:
        warn(f"... {s.mentions} mentions, {s.alerts} alerts, up to {s.last:%Y-%m-%d %H:%M}")

    def emit(d: object) -> None:
        print(decision_line(d), flush=True)  # type: ignore[arg-type]

    try:
        store = Store(db_path, durable=False)  # a backtest: run it again rather than fsync every commit
        clock = SimulatedClock()
        with ScoreAhead(args.workers) as scorer:
            pipeline = Pipeline(config, store, clock, scorer=scorer, deliver=False)
            records = in_observed_order(scorer.seeing(read_records(stream, summary, warn)), summary)
            run_replay(records, pipeline, clock, emit, summary=summary, progress=progress)
        store.close()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        if tmp is not None:
            tmp.cleanup()
    warn(summary.describe())
    return 0


def _since(value: str) -> datetime:
    try:
        return parse_time(value, "--since")
    except MonitorError:
        pass
    try:
        return datetime.now(UTC) - parse_duration(value, unit="d")
    except (ValueError, OverflowError) as exc:
        raise MonitorError(f"--since: {exc}; give an ISO time such as 2026-11-02T09:00Z or a duration such as 7d"
                           ) from None


def cmd_export(args: argparse.Namespace) -> int:
    from monitor.store.opening import open_store

    config = _load(args)
    store = open_store(config, read_only=True)
    since = _since(args.since) if args.since else None
    n = 0
    for m in store.iter_mentions(since=since, watchlist=args.watchlist):
        sys.stdout.write(json.dumps(m.to_json(), ensure_ascii=False) + "\n")
        n += 1
    print(f"monitor export: {n} mentions", file=sys.stderr)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from monitor.cascades.match import Matcher
    from monitor.scoring.scores import Scorer

    matcher = None
    try:
        matcher = Matcher(_load(args).watchlists.values())
    except ConfigError as exc:
        if args.config is not None:
            raise
        print(f"monitor score: no watch-lists loaded ({exc.problems[0]}); scoring only", file=sys.stderr)
    scorer = Scorer()
    for number, line in enumerate(sys.stdin, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        out: dict[str, object] = {"line": number}
        text = line
        if line.lstrip().startswith("{"):
            try:
                m = Mention.from_json(json.loads(line))
                out["id"], text = m.id, m.full_text
            except (json.JSONDecodeError, MonitorError) as exc:
                out["warning"] = f"not a mention record ({exc}); scored as text"
        out["text"] = text if len(text) <= 200 else text[:199] + "…"
        out.update(scorer.score(text).to_json())
        if matcher is not None:
            out["watchlists"] = matcher.explain(text)
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import run

    return run(args.config, once=args.once)


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.ops.status import status

    return status(_load(args), as_json=args.json)


def cmd_migrate(args: argparse.Namespace) -> int:
    from monitor.config.settings import is_database_url, resolve_secret
    from monitor.store.copying import copy_database
    from monitor.store.database import Store
    from monitor.store.opening import PASSWORD_NAME, open_store

    config = _load(args)
    if not is_database_url(args.to):
        print("monitor migrate: --to takes postgresql://user@host/db", file=sys.stderr)
        return 2
    if config.database_is_url:
        print("monitor migrate: the config's database is already PostgreSQL; point it at the SQLite file",
              file=sys.stderr)
        return 2
    source = open_store(config, read_only=True)
    secret = resolve_secret(PASSWORD_NAME)
    target = Store(args.to, password=secret.reveal() if secret else None)
    try:
        copied = copy_database(source, target)
    finally:
        source.close()
        target.close()
    for c in copied:
        print(f"{c.table:<14} {c.source_rows:>10} -> {c.target_rows:>10}  {'ok' if c.ok else 'MISMATCH'}")
    if not all(c.ok for c in copied):
        print("monitor migrate: row counts differ; do not switch over", file=sys.stderr)
        return 1
    print(f"monitor migrate: {len(copied)} tables, {sum(c.target_rows for c in copied)} rows copied and counted; "
          f"set database: {args.to} in {config.path} and restart", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitor", description=(
        "Social media monitoring: spot spreading complaints early and alert the PR team in Slack."))
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: list[tuple[str, Callable[[argparse.Namespace], int], str]] = [
        ("run", cmd_run, "run the daemon (Ctrl-C or SIGTERM stops it cleanly)"),
        ("check-config", cmd_check_config, "validate settings and watch-lists; exit non-zero on any error"),
        ("replay", cmd_replay, "run recorded mentions through the pipeline on a simulated clock; print alerts"),
        ("export", cmd_export, "print stored mentions as JSONL (monitor export | monitor replay - round-trips)"),
        ("score", cmd_score, "score mention records or text lines from stdin: one JSON line each"),
        ("status", cmd_status, "sources' health, X budget, open cascades, queued alerts, database size"),
        ("migrate", cmd_migrate, "copy the SQLite database into an empty PostgreSQL one, checked by counts"),
    ]
    parsers = {}
    for name, func, help_ in commands:
        p = sub.add_parser(name, help=help_, description=help_)
        _add_config(p)
        p.set_defaults(func=func)
        parsers[name] = p
    parsers["run"].add_argument("--once", action="store_true",
                                help="poll every source once, deliver what is due, and exit")
    parsers["replay"].add_argument("events", help="JSONL file of mention records, or - for stdin")
    parsers["replay"].add_argument("--database", help="keep the replay's database here (default: a temporary one)")
    parsers["replay"].add_argument("--workers", type=_workers, help="processes that score texts ahead (default: one "
                                   "per spare core, at most 4; 0 scores in the replay's own process)")
    parsers["export"].add_argument("--since", help="ISO time, or a duration back from now such as 7d")
    parsers["export"].add_argument("--watchlist", help="only mentions tracked by this watch-list")
    parsers["status"].add_argument("--json", action="store_true", help="machine-readable output")
    parsers["migrate"].add_argument("--to", required=True, help="postgresql://user@host/db (an empty database; "
                                    "the password from PGPASSWORD, never in the URL)")
    register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from monitor.ops import logs

    if args.command != "run":
        logs.setup("WARNING", json_lines=False)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"monitor: {len(exc.problems)} problem(s) in the configuration; nothing was changed",
              file=sys.stderr)
        return 2
    except MonitorError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 2 if not exc.retryable else 1
    except FileNotFoundError as exc:
        print(f"monitor: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except MemoryError:  # what no input should cause (each has a cap), said in one line all the same
        print(f"monitor {args.command}: out of memory; if an input is unusually large, check it against the "
              "limits in docs/operations.md", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
