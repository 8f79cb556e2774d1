"""``monitor test-alert``, ``monitor silence`` and ``monitor alerts``: registered into monitor/cli.py by ``register``.

Each handler takes the parsed arguments and returns the exit code: 0 done, 1 the action failed
(the reason printed in words on stderr), 2 the configuration is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from monitor.alerts import build_notifier, history, notifier_status, quiet_hours
from monitor.alerts.base import Message
from monitor.alerts.console import as_text
from monitor.alerts.render import render_alert, render_update
from monitor.config.settings import Config, load_config, parse_duration
from monitor.errors import ConfigError, DeliveryError, MonitorError
from monitor.records.mention import format_time
from monitor.store.opening import open_store


def register(subparsers: Any) -> None:
    """Add ``test-alert`` and ``silence`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "test-alert", help="send a sample alert to check the Slack wiring",
        description="Send a sample alert (a root message, a thread reply and an edit) to a watch-list's "
                    "channel, and say in words what is wrong if it fails.")
    p.add_argument("--config", help="monitor.yaml (default: $MONITOR_CONFIG or config/monitor.yaml)")
    p.add_argument("--watchlist", metavar="NAME", help="whose channel to use (default: the first watch-list)")
    p.set_defaults(func=cmd_test_alert)

    s = subparsers.add_parser(
        "silence", help="silence a watch-list or a cascade for a while",
        description="Stop alerts for a watch-list or one cascade until the silence ends. "
                    "Silenced alerts are recorded, not sent later.")
    s.add_argument("--config", help="monitor.yaml (default: $MONITOR_CONFIG or config/monitor.yaml)")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--watchlist", metavar="NAME", help="silence every alert of this watch-list")
    what.add_argument("--cascade", metavar="ROOT_ID", help="silence one cascade (its root mention id)")
    what.add_argument("--list", action="store_true", help="show the silences in force")
    what.add_argument("--lift", metavar="ID", type=int, help="end a silence now")
    s.add_argument("--for", dest="duration", metavar="DURATION", help="how long: 30m, 2h, 1d")
    s.add_argument("--reason", help="shown in the logs and in --list")
    s.set_defaults(func=cmd_silence)

    a = subparsers.add_parser(
        "alerts", help="recent alerts and open storms: state, owner, size, age; one storm's history",
        description="List the storms that alerted recently with their watch-list, state, owner, size and age, "
                    "or (--show) one storm's decisions, button actions and thread.")
    a.add_argument("--config", help="monitor.yaml (default: $MONITOR_CONFIG or config/monitor.yaml)")
    a.add_argument("--since", metavar="DURATION", default="7d", help="how far back (default 7d)")
    a.add_argument("--show", metavar="ROOT_ID", help="one storm's history: decisions, actions, thread link")
    a.add_argument("--json", action="store_true", help="print JSON instead of text")
    a.set_defaults(func=cmd_alerts)


def _load(args: argparse.Namespace) -> Config | None:
    try:
        return load_config(args.config)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return None


def cmd_test_alert(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    name = args.watchlist or next(iter(sorted(config.watchlists)), "test")
    if args.watchlist and args.watchlist not in config.watchlists:
        known = ", ".join(sorted(config.watchlists)) or "none"
        print(f"test-alert: no watch-list named {args.watchlist!r} (known: {known})", file=sys.stderr)
        return 2
    print(notifier_status(config))
    try:
        print(asyncio.run(send_test_alert(config, name)))
    except DeliveryError as exc:
        print(f"test-alert failed: {exc}", file=sys.stderr)
        return 1
    return 0


async def send_test_alert(config: Config, watchlist: str) -> str:
    """Post a sample alert (root, thread reply, edit) and say what happened. Raises DeliveryError."""
    notifier = build_notifier(config)
    channel = config.channel_for(watchlist)
    now = datetime.now(UTC)
    sample = sample_alert(watchlist, format_time(now))
    title = ":white_check_mark: Test alert (wiring check, no action needed)"
    if notifier.name == "console":
        await notifier.post(channel, render_alert(sample, title=title))
        return "Printed the sample alert above. Set a bot token or webhook URL to send it to Slack."
    checked = await notifier.check(channel)
    posted = await notifier.post(channel, render_alert(sample, title=title))
    if not notifier.supports_threads or not posted.ts:
        where = "Teams" if notifier.name.startswith("teams") else "Slack"
        return f"{checked}. Sent a test alert to the webhook's channel: look for it in {where}."
    reply = dict(sample, decision="test_update", reason="threaded replies work")
    await notifier.post(posted.channel, render_update(reply), thread_ts=posted.ts)
    edited = render_alert(sample, title=title, updated=f"{now:%H:%M} UTC")
    await notifier.update(posted.channel, posted.ts, edited)
    return (f"{checked}. Sent a test alert to {channel} (ts {posted.ts}) with a thread reply and an edit: "
            "the wiring works.")


def cmd_silence(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    now = datetime.now(UTC)
    try:
        store = open_store(config)
    except MonitorError as exc:
        print(f"silence: {exc}", file=sys.stderr)
        return 2
    try:
        if args.list:
            rows = quiet_hours.silences(store, now)
            if not rows:
                print("No silences in force.")
            for r in rows:
                what = f"cascade {r['root_id']}" if r["root_id"] else f"watch-list {r['watchlist']}"
                reason = f" - {r['reason']}" if r["reason"] else ""
                print(f"#{r['id']}: {what} until {quiet_hours.when_text(r['until'])}{reason}")
            return 0
        if args.lift is not None:
            if quiet_hours.lift_silence(store, args.lift, now):
                print(f"Silence #{args.lift} lifted.")
                return 0
            print(f"silence: no silence #{args.lift} (see monitor silence --list)", file=sys.stderr)
            return 1
        if not args.duration:
            print("silence: say for how long, e.g. --for 2h", file=sys.stderr)
            return 2
        try:
            length = parse_duration(args.duration, unit="h")
        except ValueError as exc:
            print(f"silence: --for: {exc}", file=sys.stderr)
            return 2
        if args.watchlist and args.watchlist not in config.watchlists:
            known = ", ".join(sorted(config.watchlists)) or "none"
            print(f"silence: no watch-list named {args.watchlist!r} (known: {known})", file=sys.stderr)
            return 2
        until = now + length
        sid = quiet_hours.add_silence(store, until=until, watchlist=args.watchlist, root_id=args.cascade,
                                reason=args.reason)
        what = f"cascade {args.cascade}" if args.cascade else f"watch-list {args.watchlist}"
        print(f"Silenced {what} until {quiet_hours.when_text(until)} (#{sid}); "
              f"lift it with: monitor silence --lift {sid}")
        return 0
    finally:
        store.close()


def cmd_alerts(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    try:
        since = parse_duration(args.since)
    except ValueError as exc:
        print(f"alerts: --since: {exc}", file=sys.stderr)
        return 2
    try:
        store = open_store(config, read_only=True)
    except MonitorError as exc:
        print(f"alerts: {exc}", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    try:
        if args.show:
            found = history.storm(store, args.show, now)
            if found is None:
                print(f"alerts: no storm with root id {args.show!r} (see monitor alerts)", file=sys.stderr)
                return 1
            print(json.dumps(found, indent=2, ensure_ascii=False) if args.json else history.storm_text(found))
            return 0
        rows = history.storms(store, now - since, now)
        print(json.dumps(rows, indent=2, ensure_ascii=False) if args.json else history.storms_text(rows, args.since))
        return 0
    finally:
        store.close()


def preview(message: Message) -> str:
    """A rendered message as console text (used by ``make demo`` and docs examples)."""
    return as_text(message)


def sample_alert(watchlist: str, at: str) -> dict[str, Any]:
    """A made-up storm for ``monitor test-alert``: every field filled, plus an injection attempt."""
    return {
        "at": at, "kind": "cascade", "level": "new", "watchlist": watchlist, "root_id": "test:sample",
        "decision": "test_alert", "reason": "this is a test of the alert wiring; nothing is spreading",
        "reactions": 42, "score": 0.91, "projected": 640, "rate": 120, "reach": 185000,
        "channels": ["x", "rss"], "threshold": 300, "vip": False, "vips": [],
        "root": {"id": "test:sample", "source": "x", "url": "https://example.com/status/1",
                 "text": "Sample complaint: my order arrived broken & support won't answer <!channel> @here",
                 "author": {"handle": "sample_customer", "name": "Sample Customer", "followers": 1234},
                 "created_at": at},
        "complaint": {"probability": 0.91, "category": "delivery", "specific": True,
                      "cues": ["broken", "support"]},
        "sentiment": {"root": -0.64, "negative": 30, "neutral": 9, "positive": 3},
        "growth": [1, 2, 4, 7, 12, 20, 42], "growth_bucket": "10m",
        "top_reactions": [{"id": "test:r1", "kind": "quote", "text": "Same here, third time this month",
                           "author": "another_customer", "followers": 56000,
                           "url": "https://example.com/status/2"}],
    }
