"""Two ``monitor run`` processes against one private PostgreSQL and the X and Slack stand-ins: the
watch-list is run by one of them at a time (its lease), a storm is alerted once with its thread
updates, and after kill -9 of the lease holder the other takes the watch-list over within the lease
timeout and every alert still reaches Slack exactly once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_daemon_e2e import Daemon, NotifySocket, World, alert_numbers, kill_all, wait_for

LEASE_TIMEOUT = 3.0


class ClusterWorld(World):
    """The e2e world with ``database:`` on PostgreSQL and a short lease timeout."""

    def __init__(self, *args: Any, url: str):
        super().__init__(*args)
        import psycopg

        self.url, self._psycopg = url, psycopg
        settings = yaml.safe_load(self.config.read_text())
        settings["database"] = url
        settings["cluster"] = {"lease_timeout": f"{LEASE_TIMEOUT:g}s"}
        settings.pop("http", None)  # two listeners on one port would be the test's problem, not monitor's
        self.config.write_text(yaml.safe_dump(settings, sort_keys=False))

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            with self._psycopg.connect(self.url, autocommit=True) as conn:
                return conn.execute(sql.replace("?", "%s"), args).fetchall()
        except self._psycopg.errors.UndefinedTable:
            return []

    def holder(self, lease: str) -> str | None:
        rows = self.query("SELECT holder FROM leases WHERE name = ?", lease)
        return rows[0][0] if rows else None


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str) -> Iterator[ClusterWorld]:
    from datetime import UTC

    from devkit.standins.feeds import BlogHost
    from devkit.standins.slack import SlackStandIn
    from devkit.standins.xapi import XApi
    from monitor.clock import SimulatedClock
    from tests.test_daemon_e2e import SLACK_TOKEN, X_TOKEN

    notify = NotifySocket()
    clock = SimulatedClock(datetime.now(UTC))
    with XApi(token=X_TOKEN) as x, SlackStandIn(token=SLACK_TOKEN, clock=clock) as slack, BlogHost() as blogs:
        w = ClusterWorld(tmp_path, x, slack, blogs, notify, clock, url=pg_url)
        try:
            yield w
        finally:
            kill_all(w.daemons)
            notify.close()


def _by_instance(world: ClusterWorld, instance: str) -> Daemon:
    pid = int(instance.rsplit(":", 1)[1])
    return next(d for d in world.daemons if d.proc.pid == pid)


@pytest.mark.slow
def test_two_instances_alert_a_storm_once_and_the_survivor_of_a_kill_9_delivers_the_rest_exactly_once(
        cluster: ClusterWorld) -> None:
    world = cluster
    a, b = world.start(), world.start()
    # The two share the work: one runs the watch-list, the other the global upkeep.
    wait_for("the watch-list and the global lease held by different instances", lambda: (
        world.holder("watchlist:acme") and world.holder("global")
        and world.holder("watchlist:acme") != world.holder("global")), timeout=20)
    assert len(world.query("SELECT instance FROM instances")) == 2

    root = world.storm()
    wait_for("the alert in Slack", lambda: world.slack.roots("#acme-alerts"), timeout=30)
    for i in range(12):  # the storm more than doubles: a growth update in the root's thread
        world.x.add_tweet(f"acme ignored me as well ({i})", author=f"s{i}", replied_to=root["id"])
    wait_for("the growth update in the thread", lambda: world.query(
        "SELECT 1 FROM outbox o JOIN decisions d ON d.id = o.decision_id"
        " WHERE d.name = 'growth_update' AND o.status = 'sent'"), timeout=30)
    [first] = world.slack.roots("#acme-alerts")

    # Slack goes down; more replies arrive and an update is decided, queued, and cannot go out.
    outage = world.slack_clock.now()
    world.slack.fail_between(outage, outage.replace(year=outage.year + 1), status=500)
    for i in range(30):
        world.x.add_tweet(f"acme, answer us ({i})", author=f"t{i}", replied_to=root["id"])
    wait_for("a failed delivery attempt", lambda: world.slack.count("chat.postMessage", 500), timeout=30)

    holder = world.holder("watchlist:acme")
    assert holder is not None
    victim = _by_instance(world, holder)
    survivor = b if victim is a else a
    mark = len(survivor.logs)
    [(last_renewed,)] = world.query("SELECT renewed_at FROM leases WHERE name = 'watchlist:acme'")
    victim.kill9()
    world.slack_clock.set(outage.replace(year=outage.year + 2))  # Slack recovers
    line = survivor.wait_log(r"^lease watchlist:acme taken over from " + re.escape(holder), timeout=30, after=mark)
    assert line["level"] == "warning"
    [(taken_at,)] = world.query("SELECT acquired_at FROM leases WHERE name = 'watchlist:acme'")
    waited = (datetime.fromisoformat(taken_at) - datetime.fromisoformat(last_renewed)).total_seconds()
    # Expired LEASE_TIMEOUT after its last renewal; the survivor's next tick is at that expiry (the slack is
    # for the scheduler and a loaded machine, not for a tick interval).
    assert waited <= LEASE_TIMEOUT + 1.5, waited

    wait_for("every queued alert delivered by the survivor", lambda: not world.query(
        "SELECT 1 FROM outbox WHERE status IN ('pending', 'held')") and world.query(
        "SELECT count(*) FROM decisions WHERE name = 'growth_update'")[0][0] >= 2, timeout=30)
    assert survivor.stop()[0] == 0

    numbers = alert_numbers(world.slack)
    assert -1 not in numbers and len(numbers) == len(set(numbers)), numbers  # each alert once
    sent = world.query("SELECT count(*) FROM outbox WHERE status = 'sent'")[0][0]
    assert world.slack.count("chat.postMessage", 200) == sent == len(world.slack.messages)
    assert world.slack.roots("#acme-alerts") == [first]  # one root message; the updates in its thread
    assert len(world.slack.replies("#acme-alerts", first.ts)) == sent - 1
    assert world.query("SELECT count(*) FROM decisions WHERE name = 'first_alert'") == [(1,)]
