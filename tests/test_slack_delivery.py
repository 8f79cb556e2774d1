"""Delivery against a local Slack API stand-in: one thread per storm, nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import random
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.standins.slack import SlackStandIn
from monitor.alerts import ConsoleNotifier, Sender, SlackBot, SlackWebhook, build_notifier, notifier_status
from monitor.alerts import outbox as ob
from monitor.alerts.cli import cmd_test_alert, send_test_alert
from monitor.alerts.outbox import record_decisions
from monitor.clock import SimulatedClock, SystemClock
from monitor.config.settings import Config, Secret, load_config
from monitor.errors import DeliveryError
from monitor.records.mention import format_time
from monitor.store.database import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKEN = "xoxb-stand-in-token"


def write_config(tmp: Path, api_url: str, *, slack: dict[str, Any] | None = None,
                 watchlists: list[dict[str, Any]] | None = None, database: str | None = None) -> Config:
    (tmp / "watchlists").mkdir(exist_ok=True)
    for w in watchlists or [{"name": "acme", "terms": ["acme"], "channel": "#acme-alerts",
                             "alert": {"cooldown": "0s"}}]:
        (tmp / "watchlists" / f"{w['name']}.yaml").write_text(yaml.safe_dump(w))
    settings = {"database": database or str(tmp / "monitor.db"), "watchlists": "watchlists/",
                "slack": {"api_url": api_url, "min_interval": "1s", **(slack or {})}}
    (tmp / "monitor.yaml").write_text(yaml.safe_dump(settings))
    return load_config(tmp / "monitor.yaml")


def alert(root_id: str, at: datetime, *, level: str = "new", reactions: int = 400,
          **over: Any) -> dict[str, Any]:
    d = {"at": format_time(at), "kind": "cascade", "level": level, "watchlist": "acme", "root_id": root_id,
         "decision": "first_alert" if level == "new" else "growth_update", "reason": "spreading fast",
         "reactions": reactions, "projected": reactions * 3, "rate": 200, "threshold": 300, "vip": False,
         "root": {"id": root_id, "source": "x", "url": f"https://x.com/a/status/{root_id}",
                  "text": f"complaint {root_id}",
                  "author": {"handle": "jane", "followers": 1000}},
         "growth": [1, 3, reactions]}
    d.update(over)
    return d


def drive(sender: Sender, clock: SimulatedClock, store: Store, *, limit: int = 500) -> None:
    """Run delivery passes, jumping the simulated clock to the next retry, until nothing is left."""
    for _ in range(limit):
        asyncio.run(sender.deliver_due())
        left = ob.counts(store)
        if not left.get("pending") and not left.get("held"):
            return
        nxt = ob.next_due(store, clock.now())
        clock.set(nxt if nxt is not None else clock.now() + timedelta(seconds=1))
    raise AssertionError(f"still undelivered after {limit} passes: {ob.counts(store)}")


@pytest.fixture
def env(tmp_path: Path, db_target: str | Path) -> Any:
    """Over both engines: the outbox, threads and delivery state live in the store."""
    clock = SimulatedClock(T0)
    with SlackStandIn(token=TOKEN, clock=clock) as slack:
        config = write_config(tmp_path, slack.api_url, database=str(db_target))
        store = Store(config.database)
        bot = SlackBot(Secret(TOKEN), api_url=slack.api_url)
        sender = Sender(config, store, bot, clock, rng=random.Random(7))
        yield type("Env", (), {"clock": clock, "slack": slack, "config": config, "store": store,
                               "sender": sender, "bot": bot, "tmp": tmp_path})
        store.close()


def record(e: Any, *decisions: dict[str, Any]) -> list[int]:
    return record_decisions(e.store, list(decisions), channel_for=e.config.channel_for, now=e.clock.now())


def alert_ids(messages: list[Any]) -> list[int]:
    """The alert number each message carried when it was posted (edits change the root later)."""
    out = []
    for m in messages:
        found = re.findall(r"alert #(\d+)", str(m.params.get("blocks")))
        out.append(int(found[-1]) if found else -1)
    return out


# -- one thread per storm -------------------------------------------------------------------------
def test_a_storm_yields_one_root_message_threaded_updates_and_root_edits(env: Any) -> None:
    record(env, alert("x:1", T0))
    asyncio.run(env.sender.deliver_due())
    for size in (900, 2000, 5000):
        env.clock.advance(600)
        record(env, alert("x:1", env.clock.now(), level="update", reactions=size))
        asyncio.run(env.sender.deliver_due())
    roots = env.slack.roots("#acme-alerts")
    assert len(roots) == 1
    replies = env.slack.replies("#acme-alerts", roots[0].ts)
    assert len(replies) == 3 and all("Update: growth update" in r.blocks[0]["text"]["text"] for r in replies)
    assert len(roots[0].edits) == 3
    assert "5,000 · 200/h" in str(roots[0].blocks)  # the root shows the current figures
    thread = ob.thread_for(env.store, "x:1", "acme")
    assert thread == ob.Thread(env.slack.channel_id("#acme-alerts"), roots[0].ts)


def test_posts_never_set_link_names_and_turn_off_unfurling(env: Any) -> None:
    record(env, alert("x:1", T0), alert("x:1", T0, level="update"))
    asyncio.run(env.sender.deliver_due())
    posts = [c for c in env.slack.calls if c.method == "chat.postMessage"]
    assert len(posts) == 2
    for c in posts:
        assert c.params["unfurl_links"] is False and c.params["unfurl_media"] is False
        assert "link_names" not in c.params and "parse" not in c.params
    edit = next(c for c in env.slack.calls if c.method == "chat.update")
    assert edit.params["parse"] == "none" and "link_names" not in edit.params
    assert edit.params["channel"].startswith("C")  # chat.update needs the channel id


def test_injection_in_a_tweet_reaches_slack_as_text(env: Any) -> None:
    evil = "<!channel> <!here> <@U123> <https://evil.example|click> @everyone & more"
    record(env, alert("x:1", T0, root={"id": "x:1", "source": "x", "text": evil, "url": "https://evil.example|x",
                                       "author": {"handle": "here", "name": "<@U999>"}}))
    asyncio.run(env.sender.deliver_due())
    raw = str(env.slack.messages[0].blocks) + env.slack.messages[0].text
    for bad in ("<!channel>", "<!here>", "<@U", "<https://evil.example|click>", "@everyone", "@here"):
        assert bad not in raw
    assert "&lt;!channel&gt;" in raw and "＠everyone" in raw


def test_an_update_whose_root_never_went_out_becomes_the_new_root(env: Any) -> None:
    record(env, alert("x:9", T0, level="update", reactions=700))
    asyncio.run(env.sender.deliver_due())
    env.clock.advance(600)
    record(env, alert("x:9", env.clock.now(), level="update", reactions=900))
    asyncio.run(env.sender.deliver_due())
    roots = env.slack.roots("#acme-alerts")
    assert len(roots) == 1 and "Storm update" in str(roots[0].params["blocks"][0])
    assert len(env.slack.replies("#acme-alerts", roots[0].ts)) == 1


def test_a_failed_root_edit_is_retried_without_posting_the_reply_again(env: Any) -> None:
    record(env, alert("x:1", T0))
    asyncio.run(env.sender.deliver_due())
    env.slack.fail_next(1, status=500, methods={"chat.update"})
    env.clock.advance(60)
    record(env, alert("x:1", env.clock.now(), level="update"))
    drive(env.sender, env.clock, env.store)
    root = env.slack.roots("#acme-alerts")[0]
    assert len(env.slack.replies("#acme-alerts", root.ts)) == 1
    assert len(root.edits) == 1 and env.slack.count("chat.update") == 2


def test_a_spike_episode_is_one_thread_too(env: Any) -> None:
    spike = {"at": format_time(T0), "kind": "spike", "level": "new", "watchlist": "acme",
             "root_id": "spike:acme:2026-03-02T09:00:00Z", "decision": "spike_alert", "observed": 30,
             "baseline": 5, "window": "30m", "top_terms": ["login"], "examples": []}
    record(env, spike)
    asyncio.run(env.sender.deliver_due())
    env.clock.advance(900)
    record(env, dict(spike, level="update", decision="spike_update", observed=55,
                     at=format_time(env.clock.now())))
    asyncio.run(env.sender.deliver_due())
    [root] = env.slack.roots("#acme-alerts")
    [reply] = env.slack.replies("#acme-alerts", root.ts)
    assert "55 complaints in the last 30m vs baseline 5" in str(reply.blocks)
    assert "*55* complaints" in str(root.blocks) and "Complaint spike" in str(root.blocks)


# -- nothing lost, nothing doubled ----------------------------------------------------------------
def test_decisions_and_their_outbox_rows_are_written_together_or_not_at_all(env: Any) -> None:
    def channel_for(watchlist: str) -> str:
        if watchlist == "broken":
            raise RuntimeError("no channel")
        return "#acme-alerts"

    with pytest.raises(RuntimeError):
        record_decisions(env.store, [alert("x:1", T0), alert("x:2", T0, watchlist="broken")],
                         channel_for=channel_for, now=T0)
    assert env.store.count("decisions") == 0 and env.store.count("outbox") == 0
    ids = record(env, alert("x:1", T0), alert("x:3", T0, level=None, decision="suppressed_below_threshold"))
    assert env.store.count("decisions") == 2
    assert [r.decision_id for r in ob.rows(env.store, "pending")] == ids[:1]


def test_with_slack_answering_429_and_500_for_a_while_every_alert_arrives_once_and_in_order(env: Any) -> None:
    env.slack.fail_next(4, status=429, retry_after=3)
    env.slack.fail_next(6, status=500)
    ids = record(env, *[alert(f"x:{i}", T0) for i in range(10)])
    drive(env.sender, env.clock, env.store)
    roots = env.slack.roots("#acme-alerts")
    assert alert_ids(roots) == ids
    assert env.slack.count("chat.postMessage", 429) == 4 and env.slack.count("chat.postMessage", 500) == 6
    assert ob.counts(env.store) == {"sent": 10}


def test_retry_after_is_honoured(env: Any) -> None:
    env.slack.fail_next(1, status=429, retry_after=7)
    record(env, alert("x:1", T0))
    drive(env.sender, env.clock, env.store)
    first, second = [c for c in env.slack.calls if c.method == "chat.postMessage"]
    assert first.status == 429 and second.status == 200
    assert (second.at - first.at).total_seconds() >= 7


def test_if_slack_is_down_for_an_hour_everything_arrives_afterwards_in_order_once(env: Any) -> None:
    env.slack.fail_between(T0, T0 + timedelta(minutes=30), status=500)
    env.slack.fail_between(T0 + timedelta(minutes=30), T0 + timedelta(hours=1), status=429, retry_after=60)
    ids = []
    for i in range(6):  # alerts keep coming during the outage, two storms with updates
        ids += record(env, alert(f"x:{i % 2}", env.clock.now(), level="new" if i < 2 else "update",
                                 reactions=100 * (i + 1)))
        asyncio.run(env.sender.deliver_due())
        env.clock.advance(600)
    drive(env.sender, env.clock, env.store)
    msgs = env.slack.in_channel("#acme-alerts")
    assert alert_ids(msgs) == ids  # each once, in decision order
    assert all(m.at >= T0 + timedelta(hours=1) for m in msgs)
    assert msgs[-1].at <= T0 + timedelta(hours=1, minutes=6)  # backoff is capped at 5 minutes
    roots = env.slack.roots("#acme-alerts")
    assert len(roots) == 2 and sum(len(env.slack.replies("#acme-alerts", r.ts)) for r in roots) == 4


def test_retries_stop_at_the_delivery_deadline_and_say_so(tmp_path: Path, caplog: Any) -> None:
    clock = SimulatedClock(T0)
    with SlackStandIn(token=TOKEN, clock=clock) as slack:
        config = write_config(tmp_path, slack.api_url, slack={"delivery_deadline": "10m"})
        store = Store(config.database)
        sender = Sender(config, store, SlackBot(Secret(TOKEN), api_url=slack.api_url), clock,
                        rng=random.Random(1))
        slack.fail_between(T0, T0 + timedelta(days=1), status=503)
        record_decisions(store, [alert("x:1", T0)], channel_for=config.channel_for, now=T0)
        with caplog.at_level(logging.ERROR, logger="monitor.alerts"):
            drive(sender, clock, store)
        row = ob.get(store, 1)
        assert row is not None and row.status == "failed" and row.last_error.startswith("gave up after")
        assert clock.now() - T0 <= timedelta(minutes=10)
        assert "not delivered within 0:10:00, giving up" in caplog.text


def test_a_permanent_error_fails_at_once_is_not_retried_and_is_reported_plainly(env: Any,
                                                                                 caplog: Any) -> None:
    env.slack.auto_create = False
    env.slack.add_channel("#other")
    with caplog.at_level(logging.INFO, logger="monitor.alerts"):
        record(env, alert("x:1", T0))
        drive(env.sender, env.clock, env.store)
        env.clock.advance(3600)
        asyncio.run(env.sender.deliver_due())
    assert env.slack.count("chat.postMessage") == 1
    row = ob.get(env.store, 1)
    assert row is not None and row.status == "failed"
    assert "channel_not_found" in row.last_error and "check the watch-list's channel" in row.last_error
    assert "failed and will not be retried: Slack has no channel #acme-alerts" in caplog.text


def test_a_wrong_token_is_reported_in_words_and_never_printed(tmp_path: Path, caplog: Any) -> None:
    clock = SimulatedClock(T0)
    with SlackStandIn(token=TOKEN, clock=clock) as slack:
        config = write_config(tmp_path, slack.api_url)
        store = Store(config.database)
        wrong = "xoxb-wrong-secret-value"
        sender = Sender(config, store, SlackBot(Secret(wrong), api_url=slack.api_url), clock)
        record_decisions(store, [alert("x:1", T0)], channel_for=config.channel_for, now=T0)
        with caplog.at_level(logging.DEBUG):
            drive(sender, clock, store)
        row = ob.get(store, 1)
        assert row is not None and row.status == "failed"
        assert "invalid_auth" in row.last_error and "$SLACK_BOT_TOKEN" in row.last_error
        assert wrong not in caplog.text and wrong not in row.last_error
        assert wrong not in repr(sender.notifier)


def test_a_failed_alert_does_not_hold_back_the_ones_behind_it(env: Any) -> None:
    env.slack.fail_next(1, error="msg_too_long")
    ids = record(env, alert("x:1", T0), alert("x:2", T0))
    drive(env.sender, env.clock, env.store)
    assert alert_ids(env.slack.roots("#acme-alerts")) == ids[1:]


CHILD = textwrap.dedent("""
    import asyncio, os, sys
    from monitor.alerts import Sender, SlackBot, record_decisions
    from monitor.clock import SystemClock
    from monitor.config.settings import Secret, load_config
    from monitor.records.mention import format_time
    from monitor.store.database import Store

    config = load_config(sys.argv[1])
    store = Store(config.database)
    clock = SystemClock()
    now = clock.now()
    line = {"at": format_time(now), "kind": "cascade", "level": "new", "watchlist": "acme", "root_id": "x:1",
            "decision": "first_alert", "reactions": 400, "threshold": 300,
            "root": {"id": "x:1", "source": "x", "text": "it broke"}}
    record_decisions(store, [line], channel_for=config.channel_for, now=now)
    if sys.argv[2] == "after-decision":
        os._exit(9)  # killed between the decision and the post

    class DiesAfterSlackAccepts(SlackBot):
        async def post(self, channel, message, thread_ts=None):
            posted = await super().post(channel, message, thread_ts)
            os._exit(9)  # killed after Slack accepted, before the ts is recorded

    bot = DiesAfterSlackAccepts(Secret(os.environ["SLACK_BOT_TOKEN"]), api_url=config.settings.slack.api_url)
    asyncio.run(Sender(config, store, bot, clock).deliver_due())
""")


def _run_child(tmp_path: Path, config: Config, mode: str) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, SLACK_BOT_TOKEN=TOKEN, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, str(script), str(config.path), mode], env=env, timeout=60,
                          capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr


def _restart(config: Config, slack: SlackStandIn) -> Store:
    store = Store(config.database)  # a new process: new Store, new Sender, same database file
    sender = Sender(config, store, SlackBot(Secret(TOKEN), api_url=slack.api_url), SystemClock())
    asyncio.run(sender.deliver_due())
    asyncio.run(sender.deliver_due())
    return store


def test_a_process_killed_between_decision_and_post_delivers_the_alert_once_after_restart(
        tmp_path: Path) -> None:
    with SlackStandIn(token=TOKEN) as slack:
        config = write_config(tmp_path, slack.api_url)
        _run_child(tmp_path, config, "after-decision")
        assert slack.messages == []
        store = _restart(config, slack)
        assert len(slack.messages) == 1 and "re-sent" not in str(slack.messages[0].blocks)
        assert ob.counts(store) == {"sent": 1}


def test_the_unavoidable_window_killed_after_slack_accepted_reposts_once_marked_as_a_possible_repeat(
        tmp_path: Path) -> None:
    # Documented in docs/alerts.md: Slack has no idempotency key, so an alert whose post Slack
    # accepted just before the process died goes out a second time after the restart, carrying a
    # note that it may be a repeat of the same alert number. It is never posted a third time.
    with SlackStandIn(token=TOKEN) as slack:
        config = write_config(tmp_path, slack.api_url)
        _run_child(tmp_path, config, "after-post")
        assert len(slack.messages) == 1
        store = _restart(config, slack)
        assert len(slack.messages) == 2
        assert alert_ids(slack.messages) == [1, 1]
        assert "re-sent after an interrupted attempt" in str(slack.messages[1].blocks)
        assert ob.counts(store) == {"sent": 1}
        asyncio.run(Sender(config, store, SlackBot(Secret(TOKEN), api_url=slack.api_url),
                           SystemClock()).deliver_due())
        assert len(slack.messages) == 2


# -- pacing ---------------------------------------------------------------------------------------
def test_ten_alerts_for_one_channel_are_spaced_about_a_second_apart(env: Any) -> None:
    record(env, *[alert(f"x:{i}", T0) for i in range(10)])
    sent = asyncio.run(env.sender.deliver_due())
    assert sent == 10
    times = [m.at for m in env.slack.in_channel("#acme-alerts")]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert gaps == [1.0] * 9
    assert env.clock.slept == [1.0] * 9


def test_two_channels_are_paced_independently(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    with SlackStandIn(token=TOKEN, clock=clock) as slack:
        config = write_config(tmp_path, slack.api_url, watchlists=[
            {"name": "acme", "terms": ["acme"], "channel": "#acme-alerts"},
            {"name": "beta", "terms": ["beta"], "channel": "#beta-alerts"}])
        store = Store(config.database)
        sender = Sender(config, store, SlackBot(Secret(TOKEN), api_url=slack.api_url), clock)
        lines = [alert(f"x:{i}", T0, watchlist=("acme", "beta")[i % 2]) for i in range(6)]
        record_decisions(store, lines, channel_for=config.channel_for, now=T0)
        asyncio.run(sender.deliver_due())
        assert clock.now() - T0 == timedelta(seconds=2)  # 3 per channel, interleaved
        for ch in ("#acme-alerts", "#beta-alerts"):
            times = [m.at for m in slack.in_channel(ch)]
            assert [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)] == [1.0, 1.0]


def test_flush_on_stop_delivers_what_is_due(env: Any) -> None:
    record(env, alert("x:1", T0), alert("x:2", T0))
    left = asyncio.run(env.sender.flush(timeout=10))
    assert left == 0 and len(env.slack.messages) == 2


def test_run_loop_delivers_and_stops(env: Any) -> None:
    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(env.sender.run(stop))
        record(env, alert("x:1", T0))
        env.sender.wake()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if env.slack.messages:
                break
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert len(env.slack.messages) == 1


# -- ways in --------------------------------------------------------------------------------------
def test_webhook_has_no_threads_or_edits_each_update_is_a_new_message(env: Any) -> None:
    hook = SlackWebhook(Secret(env.slack.webhook_url))
    sender = Sender(env.config, env.store, hook, env.clock)
    record(env, alert("x:1", T0), alert("x:1", T0, level="update", reactions=800))
    drive(sender, env.clock, env.store)
    msgs = env.slack.in_channel(env.slack.webhook_channel)
    assert len(msgs) == 2 and all(m.thread_ts is None and m.via == "webhook" for m in msgs)
    assert "Storm update" in msgs[1].blocks[0]["text"]["text"]
    assert env.slack.count("chat.update") == 0
    assert all(c.params.get("unfurl_links") is False for c in env.slack.calls if c.method == "webhook")


def test_webhook_errors_are_retried_or_failed_like_the_api_and_the_url_stays_secret(env: Any,
                                                                                    caplog: Any) -> None:
    hook = SlackWebhook(Secret(env.slack.webhook_url))
    sender = Sender(env.config, env.store, hook, env.clock)
    env.slack.fail_next(2, status=500, methods={"webhook"})
    record(env, alert("x:1", T0))
    with caplog.at_level(logging.DEBUG):
        drive(sender, env.clock, env.store)
    assert ob.counts(env.store) == {"sent": 1}
    gone = SlackWebhook(Secret(env.slack.server.url + "/services/T0/B0/revoked"))
    with pytest.raises(DeliveryError) as err:
        asyncio.run(gone.post("#x", sender._render(ob.get(env.store, 1), "alert", None)))
    assert "no_service" in str(err.value) and not err.value.retryable
    secret_part = env.slack.webhook_url.rsplit("/", 1)[1]
    assert secret_part not in caplog.text and "revoked" not in str(err.value)


def test_console_prints_alerts_when_slack_is_off(env: Any) -> None:
    out = io.StringIO()
    sender = Sender(env.config, env.store, ConsoleNotifier(stream=out), env.clock)
    record(env, alert("x:1", T0, root={"id": "x:1", "text": "<!channel> it broke", "source": "x"}))
    asyncio.run(sender.deliver_due())
    text = out.getvalue()
    assert "alert for #acme-alerts (console: Slack is off)" in text and "<!channel> it broke" in text
    assert ob.counts(env.store) == {"sent": 1}


def test_notifier_status_says_which_way_in_is_active(env: Any) -> None:
    cfg = env.config
    off = "Slack: off, no $SLACK_BOT_TOKEN or $SLACK_WEBHOOK_URL; alerts print to the console"
    assert notifier_status(cfg, {}) == off
    bot = notifier_status(cfg, {"SLACK_BOT_TOKEN": TOKEN})
    assert bot.startswith("Slack: bot token from $SLACK_BOT_TOKEN") and TOKEN not in bot
    assert "no threads or edits" in notifier_status(cfg, {"SLACK_WEBHOOK_URL": env.slack.webhook_url})
    assert isinstance(build_notifier(cfg, {}), ConsoleNotifier)
    both = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_WEBHOOK_URL": "http://h/x"}
    assert isinstance(build_notifier(cfg, both), SlackBot)
    assert isinstance(build_notifier(cfg, {"SLACK_WEBHOOK_URL": env.slack.webhook_url}), SlackWebhook)


# -- monitor test-alert ---------------------------------------------------------------------------
def test_test_alert_posts_a_sample_with_a_thread_reply_and_an_edit(env: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    said = asyncio.run(send_test_alert(env.config, "acme"))
    assert "signed in as monitor in Stand-in" in said and "the wiring works" in said
    root = env.slack.roots("#acme-alerts")[0]
    assert "Test alert" in root.blocks[0]["text"]["text"] and len(root.edits) == 1
    assert len(env.slack.replies("#acme-alerts", root.ts)) == 1


def test_test_alert_reports_a_wrong_token_and_a_bot_not_in_the_channel_in_words(env: Any, monkeypatch: Any,
                                                                                capsys: Any) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-the-right-one")
    args = type("Args", (), {"config": str(env.config.path), "watchlist": "acme"})()
    assert cmd_test_alert(args) == 1
    err = capsys.readouterr().err
    assert "Slack rejected the bot token (invalid_auth): check that $SLACK_BOT_TOKEN holds" in err
    assert "xoxb-not-the-right-one" not in err
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    env.slack.add_channel("#acme-alerts", member=False)
    assert cmd_test_alert(args) == 1
    assert "the bot is not a member of #acme-alerts (not_in_channel): type /invite" in capsys.readouterr().err


def test_test_alert_without_slack_prints_to_the_console(env: Any, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    args = type("Args", (), {"config": str(env.config.path), "watchlist": None})()
    assert cmd_test_alert(args) == 0
    out = capsys.readouterr().out
    assert "Slack: off" in out and "Test alert" in out


def test_a_webhook_slack_does_not_know_is_a_permanent_error_that_says_what_to_check() -> None:
    from monitor.alerts.slack import describe

    words = describe("invalid_token", secret_env="SLACK_WEBHOOK_URL")
    assert "$SLACK_WEBHOOK_URL" in words and "whole URL" in words and "create a new one" in words
