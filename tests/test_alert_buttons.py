"""Alerts a PR team acts on from Slack: buttons through Socket Mode, state in the store, the root
message edited, updates stopped after *Resolved* and reopened by a doubling; the next step, the
chart in the thread, ``monitor alerts``, and the same storm through a Teams workflow.

Everything runs against the stand-ins on 127.0.0.1: the Slack Web API, its Socket Mode websocket
(``SlackStandIn.press`` clicks a button as a person would) and a Teams Workflows webhook.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devkit.standins.slack import SlackStandIn
from devkit.standins.teams import TeamsStandIn
from monitor.alerts import Sender, SlackBot, TeamsWorkflow
from monitor.alerts import outbox as ob
from monitor.alerts.controls import LABELS
from monitor.alerts.interactive import ButtonHandler, SocketMode
from monitor.alerts.outbox import record_decisions
from monitor.cli import main
from monitor.clock import SimulatedClock
from monitor.config.settings import Secret
from monitor.errors import DeliveryError
from monitor.store.database import Store
from tests.test_slack_delivery import T0, TOKEN, alert, write_config

T = TypeVar("T")
CHANNEL = "#acme-alerts"


async def until(what: str, probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Wait for ``probe`` to hold (the press is applied on the event loop after its ack)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Rig:
    def __init__(self, tmp: Path, slack: SlackStandIn, clock: SimulatedClock, **config: Any):
        self.slack, self.clock = slack, clock
        self.config = write_config(tmp, slack.api_url, **config)
        self.store = Store(self.config.database_path)
        self.sender = Sender(self.config, self.store, SlackBot(Secret(TOKEN), api_url=slack.api_url), clock,
                             rng=random.Random(7), interactive=True)
        self.handler = ButtonHandler(self.store, self.sender, clock)

    def record(self, *decisions: dict[str, Any]) -> None:
        record_decisions(self.store, list(decisions), channel_for=self.config.channel_for, now=self.clock.now())

    def root(self) -> Any:
        [root] = self.slack.roots(CHANNEL)
        return root

    def root_text(self) -> str:
        return json.dumps(self.root().blocks, ensure_ascii=False)

    def replies(self) -> list[Any]:
        return self.slack.replies(CHANNEL, self.root().ts)


def scenario(tmp: Path, body: Callable[[Rig], Coroutine[Any, Any, None]], **config: Any) -> None:
    clock = SimulatedClock(T0)

    async def run() -> None:
        with SlackStandIn(token=TOKEN, clock=clock) as slack:
            rig = Rig(tmp, slack, clock, **config)
            sm = SocketMode(Secret(slack.app_token), rig.handler, api_url=slack.api_url)
            await sm.start()
            try:
                await body(rig)
            finally:
                await sm.close()
                rig.store.close()
    asyncio.run(run())


def press(rig: Rig, label: str, **kw: Any) -> Coroutine[Any, Any, Any]:
    return asyncio.to_thread(rig.slack.press, label, **kw)


# -- the buttons ------------------------------------------------------------------------------------
def test_the_alert_carries_the_four_buttons_with_their_exact_labels(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.record(alert("x:1", T0))
        await rig.sender.deliver_due()
        [actions] = [b for b in rig.root().blocks if b["type"] == "actions"]
        assert [e["text"]["text"] for e in actions["elements"]] == ["Take it", "Acknowledge", "Mute 24h", "Resolved"]
        assert list(LABELS.values()) == ["Take it", "Acknowledge", "Mute 24h", "Resolved"]
        assert any(b["type"] == "input" for b in rig.root().blocks)  # the optional note for Resolved
    scenario(tmp_path, body)


def test_take_it_then_resolved_edits_the_root_stops_updates_and_a_doubling_reopens_it(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.record(alert("x:1", T0, reactions=400))
        await rig.sender.deliver_due()
        assert "nobody has it yet" in rig.root_text()

        rig.clock.advance(120)
        await press(rig, "Take it", user=("U0DANA", "dana"))
        await until("the root to show the owner", lambda: "owner dana" in rig.root_text())
        assert "*Status:* acknowledged" in rig.root_text()

        rig.clock.advance(600)
        await press(rig, "Resolved", user=("U0DANA", "dana"), note="refunded and apologised <!channel>")
        await until("the root to show it resolved", lambda: "*Status:* resolved" in rig.root_text())
        assert "refunded and apologised &lt;!channel&gt;" in rig.root_text()  # the note is escaped
        assert "<!channel>" not in rig.root_text()

        # A growth update below growth_factor (2x) times the size at Resolved: no thread update.
        rig.clock.advance(600)
        rig.record(alert("x:1", rig.clock.now(), level="update", reactions=700))
        await rig.sender.deliver_due()
        assert rig.replies() == []
        [row] = [r for r in ob.rows(rig.store, "silenced")]
        assert "resolved by dana" in (row.last_error or "")

        # Doubled since it was resolved: reopened, said in the thread, and the root shows it open.
        rig.clock.advance(600)
        rig.record(alert("x:1", rig.clock.now(), level="update", reactions=900))
        await rig.sender.deliver_due()
        [reply] = rig.replies()
        assert "Reopened: it grew from 400 to 900 reactions" in json.dumps(reply.blocks)
        assert "*Status:* open" in rig.root_text() and "owner dana" in rig.root_text()
        history = [a.action for a in rig.store.alert_actions("x:1", "acme")]
        assert history == ["take", "resolve", "reopen"]
        assert [a.user_name for a in rig.store.alert_actions("x:1", "acme")] == ["dana", "dana", "monitor"]
    scenario(tmp_path, body)


def test_a_press_that_slack_delivers_twice_is_applied_once(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.record(alert("x:1", T0))
        await rig.sender.deliver_due()
        edits = len(rig.root().edits)
        env = await press(rig, "Take it", user=("U0LEE", "lee"), times=2)
        assert env.deliveries == 2 and env.acks == 2  # both deliveries acknowledged ...
        assert env.sent[1]["retry_attempt"] == 1
        await until("the second delivery to be seen", lambda: rig.handler.repeats == 1)
        assert rig.handler.applied == 1  # ... and applied once
        assert [a.action for a in rig.store.alert_actions("x:1")] == ["take"]
        await until("the root edit", lambda: len(rig.root().edits) > edits)
        assert len(rig.root().edits) == edits + 1
    scenario(tmp_path, body)


def test_mute_24h_silences_the_storm_for_a_day(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.record(alert("x:1", T0))
        await rig.sender.deliver_due()
        await press(rig, "Mute 24h", user=("U0SAM", "sam"))
        await until("the root to say muted", lambda: "muted until" in rig.root_text())
        [silence] = rig.store.silences()
        assert (silence.root_id, silence.watchlist) == ("x:1", "acme")
        assert silence.until - rig.clock.now() == timedelta(hours=24)  # the simulated clock stood still
        rig.record(alert("x:1", rig.clock.now(), level="update", reactions=5000))
        await rig.sender.deliver_due()
        assert rig.replies() == []
    scenario(tmp_path, body)


def test_a_reconnect_requested_by_slack_keeps_the_buttons_working(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.record(alert("x:1", T0))
        await rig.sender.deliver_due()
        await asyncio.to_thread(rig.slack.socket.disconnect, "refresh_requested")
        await until("a new connection", lambda: rig.slack.socket.connects == 2 and rig.slack.socket.connections)
        await press(rig, "Acknowledge", user=("U0KIM", "kim"))
        await until("the root to show it acknowledged", lambda: "*Status:* acknowledged" in rig.root_text())
        assert rig.slack.count("apps.connections.open") == 2
    scenario(tmp_path, body)


def test_without_an_app_token_the_alert_has_no_buttons_and_says_how_to_enable_them(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    with SlackStandIn(token=TOKEN, clock=clock) as slack:
        config = write_config(tmp_path, slack.api_url)
        store = Store(config.database_path)
        sender = Sender(config, store, SlackBot(Secret(TOKEN), api_url=slack.api_url), clock, interactive=False)
        record_decisions(store, [alert("x:1", T0)], channel_for=config.channel_for, now=clock.now())
        asyncio.run(sender.deliver_due())
        [root] = slack.roots(CHANNEL)
        assert not [b for b in root.blocks if b["type"] in ("actions", "input")]
        assert "Buttons are off: set $SLACK_APP_TOKEN" in json.dumps(root.blocks) and "docs/slack.md" in json.dumps(
            root.blocks)
        store.close()


def test_a_bot_token_given_as_the_app_token_is_refused_in_words(tmp_path: Path) -> None:
    with SlackStandIn(token=TOKEN) as slack:
        async def handler(payload: dict[str, Any]) -> None:
            return None
        for token, words in ((TOKEN, "does not hold an app-level token"),
                             ("xapp-1-wrong", "rejected the app-level token")):
            sm = SocketMode(Secret(token), handler, api_url=slack.api_url)
            with pytest.raises(DeliveryError) as err:
                asyncio.run(sm.start())
            assert words in str(err.value) and "$SLACK_APP_TOKEN" in str(err.value) and token not in str(err.value)
            assert not err.value.retryable
        assert slack.socket.connects == 0


# -- what the alert says ------------------------------------------------------------------------------
def test_the_alert_names_the_next_step_start_age_root_id_and_growth_in_words(tmp_path: Path) -> None:
    playbook = [{"category": "billing", "specific": True, "who": "@billing-lead",
                 "do": "contact the customer directly"},
                {"vip": True, "who": "@pr-duty", "do": "escalate now", "slack_id": "S0PRDUTY"}]
    wl = {"name": "acme", "terms": ["acme"], "channel": CHANNEL, "alert": {"cooldown": "0s"}, "playbook": playbook}

    async def body(rig: Rig) -> None:
        billing = {"category": "billing", "specific": True, "probability": 0.9}
        first = alert("x:1", T0, reactions=400, complaint=billing)
        first["root"]["created_at"] = "2026-03-02T08:20:00Z"
        rig.record(first)
        await rig.sender.deliver_due()
        text = rig.root_text()
        assert "*Next step:* @billing-lead: contact the customer directly" in text
        assert "<@" not in text and "<!subteam" not in text  # the who is config text, not a ping
        assert "Started 08:20 UTC, 40 min ago" in text
        assert "root `x:1`" in text
        rig.clock.advance(1200)
        rig.record(alert("x:1", rig.clock.now(), level="update", reactions=520, complaint=billing))
        await rig.sender.deliver_due()
        assert "growth +120 in 20 min since the last update" in json.dumps(rig.replies()[0].blocks)
        rig.record(alert("x:2", rig.clock.now(), vip=True))
        await rig.sender.deliver_due()
        vip_root = rig.slack.roots(CHANNEL)[-1]
        assert "<!subteam^S0PRDUTY> (@pr-duty): escalate now" in json.dumps(vip_root.blocks)
    scenario(tmp_path, body, watchlists=[wl])


def test_the_chart_is_uploaded_into_the_thread_with_each_update(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.record(alert("x:1", T0, reactions=400))
        await rig.sender.deliver_due()
        rig.clock.advance(600)
        rig.record(alert("x:1", rig.clock.now(), level="update", reactions=900))
        await rig.sender.deliver_due()
        files = rig.slack.thread_files(CHANNEL, rig.root().ts)
        assert len(files) == 2
        assert all(f.data.startswith(b"\x89PNG\r\n\x1a\n") for f in files)
        assert rig.slack.count("files.upload") == 0  # the retired method is not used
        assert rig.slack.count("files.getUploadURLExternal") == 2
        assert rig.slack.count("files.completeUploadExternal") == 2
    scenario(tmp_path, body)


# -- monitor alerts ------------------------------------------------------------------------------------
def test_monitor_alerts_lists_the_storm_and_shows_its_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    async def body(rig: Rig) -> None:
        rig.record(alert("x:1", T0, reactions=400))
        await rig.sender.deliver_due()
        await press(rig, "Take it", user=("U0DANA", "dana"))
        await until("the take to apply", lambda: rig.store.alert_state("x:1", "acme"))
        await press(rig, "Resolved", user=("U0DANA", "dana"), note="called her back")
        await until("the resolve", lambda: rig.store.alert_state("x:1", "acme").status == "resolved")  # type: ignore[union-attr]
    scenario(tmp_path, body)
    cfg = str(tmp_path / "monitor.yaml")
    assert main(["alerts", "--config", cfg, "--since", "3650d", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["root_id"], row["watchlist"], row["state"], row["owner"], row["size"]) == ("x:1", "acme", "resolved",
                                                                                           "dana", 400)
    assert row["thread"].startswith("/archives/C")
    assert main(["alerts", "--config", cfg, "--since", "3650d"]) == 0
    assert "x:1" in capsys.readouterr().out
    assert main(["alerts", "--config", cfg, "--show", "x:1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [a["action"] for a in shown["actions"]] == ["take", "resolve"]
    assert shown["actions"][1]["note"] == "called her back" and shown["actions"][1]["by"] == "dana"
    assert [d["decision"] for d in shown["decisions"]] == ["first_alert"]
    assert main(["alerts", "--config", cfg, "--show", "x:1"]) == 0
    assert "resolve by dana" in capsys.readouterr().out
    assert main(["alerts", "--config", cfg, "--show", "x:404"]) == 1
    assert main(["alerts", "--config", cfg, "--since", "soon"]) == 2


# -- Teams ------------------------------------------------------------------------------------------------
def test_a_teams_workflow_receives_the_storm_once_with_its_updates(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    with SlackStandIn(token=TOKEN, clock=clock) as slack, TeamsStandIn() as teams:
        config = write_config(tmp_path, slack.api_url)
        store = Store(config.database_path)
        sender = Sender(config, store, TeamsWorkflow(Secret(teams.webhook_url)), clock, rng=random.Random(3))
        record_decisions(store, [alert("x:1", T0)], channel_for=config.channel_for, now=clock.now())
        teams.fail_next(1, status=500)  # a failed first attempt is retried, not doubled
        for _ in range(20):
            asyncio.run(sender.deliver_due())
            if not ob.counts(store).get("pending"):
                break
            nxt = ob.next_due(store, clock.now())
            assert nxt is not None
            clock.set(nxt)
        for size in (900, 2000):
            clock.advance(600)
            record_decisions(store, [alert("x:1", clock.now(), level="update", reactions=size)],
                             channel_for=config.channel_for, now=clock.now())
            asyncio.run(sender.deliver_due())
            asyncio.run(sender.deliver_due())  # a second pass sends nothing again
        assert teams.statuses.count(202) == 3 and len(teams.posts) == 3
        first, *updates = teams.posts
        assert "Complaint spreading" in first.text and "alert #1" in first.text
        assert all("Storm update" in u.text and "follows alert #1" in u.text for u in updates)
        assert "2,000" in updates[-1].text
        assert slack.messages == []
        store.close()
