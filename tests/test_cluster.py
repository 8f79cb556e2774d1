"""Several instances on one database: leases on watch-lists, taken over when a holder stops renewing,
and outbox rows claimed by one instance only. The lease and claim tests are store contracts: they run
over SQLite and PostgreSQL alike (``db_target``)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.ops.cluster import GLOBAL, Cluster
from monitor.store.database import Store

NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
TIMEOUT = 30.0


def test_a_lease_has_one_holder_is_renewed_and_is_taken_over_only_once_it_expires(db_target: str | Path) -> None:
    store = Store(db_target)
    assert store.acquire_lease("watchlist:acme", "a", now=NOW, timeout_s=TIMEOUT) == (True, None)
    assert store.acquire_lease("watchlist:acme", "b", now=NOW + timedelta(seconds=1), timeout_s=TIMEOUT)[0] is False
    # Renewed by its holder: still not expired 29 s after the renewal.
    assert store.acquire_lease("watchlist:acme", "a", now=NOW + timedelta(seconds=20), timeout_s=TIMEOUT)[0]
    assert not store.acquire_lease("watchlist:acme", "b", now=NOW + timedelta(seconds=49), timeout_s=TIMEOUT)[0]
    # The holder stopped renewing: the lease is taken over, and the old holder cannot renew it.
    assert store.acquire_lease("watchlist:acme", "b", now=NOW + timedelta(seconds=51), timeout_s=TIMEOUT) == (True, "a")
    assert not store.acquire_lease("watchlist:acme", "a", now=NOW + timedelta(seconds=52), timeout_s=TIMEOUT)[0]
    [lease] = store.leases()
    assert (lease.name, lease.holder, lease.acquired_at) == ("watchlist:acme", "b", NOW + timedelta(seconds=51))


def test_instances_share_the_watch_lists_and_a_dead_ones_move_to_the_living(db_target: str | Path) -> None:
    store = Store(db_target)
    a = Cluster(store, "a", TIMEOUT, NOW)
    b = Cluster(store, "b", TIMEOUT, NOW)
    watchlists = ["acme", "globex", "initech"]
    assert a.tick(watchlists, NOW) == {GLOBAL, "watchlist:acme", "watchlist:globex", "watchlist:initech"}
    # b appears: a lets go of its extra units one tick at a time, b takes them.
    for i in range(1, 6):
        t = NOW + timedelta(seconds=i)
        b.tick(watchlists, t)
        a.tick(watchlists, t)
    assert len(a.held) == 2 and len(b.held) == 2 and not a.held & b.held
    # a dies (stops ticking); after the lease timeout b runs everything, counting the takeovers.
    lost = set(a.held)
    for i in range(6, 60, 10):
        b.tick(watchlists, NOW + timedelta(seconds=i))
    assert b.held == {GLOBAL, "watchlist:acme", "watchlist:globex", "watchlist:initech"}
    assert b.takeovers == len(lost)
    assert {le.holder for le in store.leases()} == {"b"}


def test_a_clean_stop_hands_the_leases_over_at_once(db_target: str | Path) -> None:
    store = Store(db_target)
    a, b = Cluster(store, "a", TIMEOUT, NOW), Cluster(store, "b", TIMEOUT, NOW)
    a.tick(["acme"], NOW)
    a.leave()
    assert b.tick(["acme"], NOW + timedelta(seconds=1)) == {GLOBAL, "watchlist:acme"}
    assert [i.instance for i in store.instances()] == ["b"]


def _queued(store: Store) -> int:
    did = store.add_decision(at="2026-12-07T10:00:00Z", name="first_alert", kind="cascade", level="new",
                             watchlist="acme", root_id="x:1", payload="{}")
    store.queue_delivery(did, "#acme", NOW)
    return did


def test_an_outbox_row_is_claimed_by_the_lease_holder_only_and_by_one_instance_at_a_time(
        db_target: str | Path) -> None:
    store = Store(db_target)
    did = _queued(store)
    store.acquire_lease("watchlist:acme", "a", now=NOW, timeout_s=TIMEOUT)
    assert not store.claim_delivery(did, "b", "watchlist:acme", now=NOW, timeout_s=TIMEOUT)  # no lease
    assert store.claim_delivery(did, "a", "watchlist:acme", now=NOW, timeout_s=TIMEOUT)
    # a dies mid-delivery; b takes the lease over, and the claim too once it has expired.
    later = NOW + timedelta(seconds=TIMEOUT + 1)
    assert store.acquire_lease("watchlist:acme", "b", now=later, timeout_s=TIMEOUT)[0]
    assert not store.claim_delivery(did, "a", "watchlist:acme", now=later, timeout_s=TIMEOUT)
    assert store.claim_delivery(did, "b", "watchlist:acme", now=later, timeout_s=TIMEOUT)
    store.mark_sent(did, ts="1.0", thread_ts=None, now=later, note=None)
    assert not store.claim_delivery(did, "b", "watchlist:acme", now=later, timeout_s=TIMEOUT)  # sent: done


def test_on_postgresql_a_row_being_claimed_elsewhere_is_skipped_not_waited_for(pg_url: str) -> None:
    import psycopg

    store = Store(pg_url)
    did = _queued(store)
    store.acquire_lease("watchlist:acme", "a", now=NOW, timeout_s=TIMEOUT)
    with psycopg.connect(pg_url) as other:  # another instance, mid-claim: the row is locked
        other.execute("SELECT 1 FROM outbox WHERE decision_id = %s FOR UPDATE", (did,))
        done: list[bool] = []
        t = threading.Thread(target=lambda: done.append(
            store.claim_delivery(did, "a", "watchlist:acme", now=NOW, timeout_s=TIMEOUT)))
        t.start()
        t.join(20)
        assert done == [False], "a locked row is skipped at once (SKIP LOCKED), not waited for"
    assert store.claim_delivery(did, "a", "watchlist:acme", now=NOW, timeout_s=TIMEOUT)


def test_a_password_in_the_database_url_is_refused_with_one_line(tmp_path: Path) -> None:
    from monitor.errors import StoreError

    with pytest.raises(StoreError, match="PGPASSWORD"):
        Store("postgresql://monitor:hunter2@127.0.0.1:1/monitor")


def test_a_config_with_a_password_in_the_database_url_is_refused_at_load_with_one_line(tmp_path: Path,
                                                                                       capsys) -> None:
    from monitor.cli import main
    from tests.conftest import ACME, write_config

    cfg = write_config(tmp_path, [ACME], database="postgresql://monitor:hunter2@db.internal/monitor")
    assert main(["check-config", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "database: " in err and "PGPASSWORD" in err and "hunter2" not in err


def test_the_password_comes_from_a_systemd_credential(tmp_path: Path, pg_server, monkeypatch) -> None:
    """With password auth on, ``open_store`` hands libpq the credential ``PGPASSWORD``; without it
    the server refuses."""
    import psycopg

    from monitor.config.settings import load_config
    from monitor.errors import StoreError
    from monitor.store.opening import open_store
    from tests.conftest import ACME, write_config

    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute("CREATE ROLE pw_user LOGIN PASSWORD 's3cret-pw' CREATEDB")
        conn.execute("CREATE DATABASE pw_db OWNER pw_user")
    # Trust holds for the superuser; this role must give its password (scram) on 127.0.0.1.
    hba = pg_server.folder / "data" / "pg_hba.conf"
    hba.write_text("host all pw_user 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    cfg = write_config(tmp_path, [ACME], database=f"postgresql://pw_user@127.0.0.1:{pg_server.port}/pw_db")
    config = load_config(cfg)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(StoreError, match="cannot connect"):
        open_store(config)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "PGPASSWORD").write_text("s3cret-pw\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    store = open_store(config)
    assert store.engine == "postgresql" and store.count("mentions") == 0
    store.close()


def test_status_shows_the_instances_their_leases_and_heartbeats(tmp_path: Path, pg_url: str, capsys) -> None:
    from monitor.cli import main
    from monitor.config.settings import load_config
    from monitor.ops.status import collect
    from tests.conftest import ACME, write_config

    config = load_config(write_config(tmp_path, [ACME], database=pg_url))
    store = Store(pg_url)
    now = datetime.now(UTC)
    Cluster(store, "web-1:812", TIMEOUT, now).tick(["acme"], now)
    store.heartbeat("web-2:77", host="web-2", pid=77, started=now, now=now)
    info = collect(config)
    assert [i["instance"] for i in info["instances"]] == ["web-1:812", "web-2:77"]
    assert {(le["name"], le["holder"]) for le in info["leases"]} == {("global", "web-1:812"),
                                                                       ("watchlist:acme", "web-1:812")}
    assert main(["status", "--config", str(config.path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"instance   web-1:812: heartbeat just now; leases global, watchlist:acme\n", out), out
    assert re.search(r"instance   web-2:77: heartbeat just now; leases none\n", out), out
    assert "lease      watchlist:acme: web-1:812, until " in out


def test_instances_starting_together_migrate_a_new_database_once(pg_url: str) -> None:
    from monitor.store.database import SCHEMA_VERSION

    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            Store(pg_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    store = Store(pg_url, read_only=True)
    assert store.schema_version() == SCHEMA_VERSION
    assert store.conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1


def test_the_lease_timeout_is_thirty_seconds_by_default() -> None:
    from monitor.config.settings import ClusterSettings

    assert ClusterSettings().lease_timeout == timedelta(seconds=30)


def test_the_next_lease_tick_comes_when_another_holders_lease_expires_so_takeover_is_within_the_timeout(
        db_target: str | Path) -> None:
    from monitor.ops.cluster import TAKEOVER_SLACK

    store = Store(db_target)
    a, b = Cluster(store, "a", TIMEOUT, NOW), Cluster(store, "b", TIMEOUT, NOW)
    a.tick(["acme"], NOW)
    t = NOW + timedelta(seconds=1)
    b.tick(["acme"], t)
    assert b.next_tick(t) == t + timedelta(seconds=b.every_s)  # a renews in time: the normal interval
    t = NOW + timedelta(seconds=25)  # a stopped renewing after NOW: its leases expire at NOW + TIMEOUT
    assert b.tick(["acme"], t) == set()
    at = b.next_tick(t)
    assert at == NOW + timedelta(seconds=TIMEOUT) + TAKEOVER_SLACK < t + timedelta(seconds=b.every_s)
    assert b.tick(["acme"], at) == {GLOBAL, "watchlist:acme"}  # taken at the expiry, not a third later
    assert b.next_tick(at) == at + timedelta(seconds=b.every_s)  # nothing else to wait for


def test_an_instance_that_stalled_past_its_lease_knows_it_before_polling(db_target: str | Path) -> None:
    store = Store(db_target)
    a = Cluster(store, "a", TIMEOUT, NOW)
    a.tick(["acme"], NOW)
    assert a.current(NOW + timedelta(seconds=TIMEOUT - 1))
    assert not a.current(NOW + timedelta(seconds=TIMEOUT + 1))  # not renewed: it may have been taken over


def test_the_store_comes_back_after_a_restart_of_the_postgresql_server(pg_server, pg_url: str) -> None:
    """A statement on a connection the server cut fails as a StoreError (the poll or pass it belongs to
    is retried by the next one); the store then works again without being reopened."""
    from monitor.errors import StoreError

    store = Store(pg_url)
    store.set_cursor("x:acme", {"since_id": "1"}, now=NOW)
    pg_server.restart()
    failures = 0
    for _ in range(10):
        try:
            assert store.get_cursor("x:acme") == {"since_id": "1"}
            break
        except StoreError:
            failures += 1
    else:
        raise AssertionError("the store did not come back after the server restarted")
    assert failures <= 4  # at most each pooled connection the restart cut, once
    store.set_cursor("x:acme", {"since_id": "2"}, now=NOW)
    assert store.get_cursor("x:acme") == {"since_id": "2"}
    store.close()


def test_monitor_run_once_on_postgresql_takes_the_leases_polls_and_hands_them_back(tmp_path: Path, pg_url: str,
                                                                                   capfd) -> None:
    from monitor.cli import main
    from tests.conftest import ACME, write_config

    cfg = write_config(tmp_path, [ACME], database=pg_url, x={"enabled": False}, blogs={"enabled": False})
    assert main(["run", "--once", "--config", str(cfg)]) == 0
    logged = capfd.readouterr().err
    assert "lease watchlist:acme taken" in logged and "lease global taken" in logged
    store = Store(pg_url, read_only=True)
    assert store.leases() == [] and store.instances() == []


# -- the daemon in a cluster: fenced writes, polls only while the leases are current ------------------
COMPLAINT = "I tried to cancel my @acme subscription 3 times and nobody answers. Charged again, order #55123."


def _post(i: int, text: str, *, parent: str | None = None, seconds: float = 0) -> Any:
    from monitor.records.mention import Author, Mention

    at = NOW + timedelta(seconds=seconds)
    return Mention(id=f"x:{i}", source="x", kind="reply" if parent else "post", parent_id=parent,
                   url=f"https://x.com/u{i}/status/{i}", author=Author(str(i), f"user{i}", followers=100),
                   text=text, links=[], created_at=at, observed_at=at)


def _storm(n: int = 6) -> list[Any]:
    return [_post(1, COMPLAINT), *(_post(10 + i, f"same here, acme is awful ({i})", parent="x:1", seconds=i + 1)
                                   for i in range(n))]


class FakeSource:
    """A source that hands out the batches it was given (and a cursor each poll), counting its polls."""

    def __init__(self, key: str, *batches: list[Any]):
        self.key, self.batches, self.polls = key, list(batches), 0

    async def poll(self, cursor: Any, now: datetime) -> Any:
        from monitor.sources.base import PollResult

        self.polls += 1
        return PollResult(self.batches.pop(0) if self.batches else [], {"since_id": str(self.polls)})


def _daemon(tmp_path: Path, pg_url: str, clock: Any, watchlists: list[str] = ["acme"], **settings: Any) -> Any:  # noqa: B006
    from monitor.config.settings import load_config
    from monitor.daemon import Daemon
    from tests.conftest import write_config

    lists = [{"name": w, "terms": [w], "alert": {"spread_threshold": 5, "spike": False, "cooldown": "0s"}}
             for w in watchlists]
    settings.setdefault("x", {"enabled": False})
    cfg = write_config(tmp_path, lists, database=pg_url, blogs={"enabled": False},
                       cluster={"instance": "a"}, detection={"min_reactions": 3}, **settings)
    return Daemon(load_config(cfg), clock=clock)


def _taken_over_by_b(pg_url: str, watchlists: list[str] = ["acme"]) -> Store:  # noqa: B006
    """Instance b takes over every lease, long after a's last renewal (a stalled)."""
    store = Store(pg_url)
    b = Cluster(store, "b", TIMEOUT, NOW)
    assert "watchlist:acme" in b.tick(watchlists, NOW + timedelta(seconds=3 * TIMEOUT))
    return store


def test_a_stalled_holder_taken_over_records_no_decision_and_drops_the_watch_lists_state(
        tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    from monitor.clock import SimulatedClock

    clock = SimulatedClock(NOW)
    d = _daemon(tmp_path, pg_url, clock)

    async def scenario() -> None:
        await d.lease()
        d.sources = {"fake:acme": FakeSource("fake:acme", _storm())}
        await d.poll("fake:acme")  # stored while a holds the lease: the storm is a's to judge
        other = _taken_over_by_b(pg_url)
        # a stalled after its last check: by its own clock its lease is still current, but b holds it now.
        clock.set(NOW + timedelta(seconds=TIMEOUT - 1))
        assert d.cluster is not None and d.cluster.current(clock.now())
        with caplog.at_level("WARNING", logger="monitor.daemon"):
            await d.detect()
        assert other.count("decisions") == 0 and other.count("outbox") == 0
        lost = [r for r in caplog.records if "no longer held" in r.getMessage()]
        assert len(lost) == 1, [r.getMessage() for r in caplog.records]
        assert "acme" not in d.view.watchlists and d.pipeline.detector.open_count() == 0

    try:
        asyncio.run(scenario())
    finally:
        d.store.close()


def test_a_stalled_holder_taken_over_stores_no_batch_and_moves_no_cursor(tmp_path: Path, pg_url: str) -> None:
    import asyncio

    from monitor.clock import SimulatedClock

    clock = SimulatedClock(NOW)
    d = _daemon(tmp_path, pg_url, clock)

    async def scenario() -> None:
        await d.lease()
        d.sources = {"fake:acme": FakeSource("fake:acme", _storm())}
        other = _taken_over_by_b(pg_url)
        clock.set(NOW + timedelta(seconds=TIMEOUT - 1))
        await d.poll("fake:acme")
        assert other.count("mentions") == 0 and other.get_cursor("fake:acme") is None
        assert other.source_state("fake:acme").paused_until is None  # b's polls of it are not parked

    try:
        asyncio.run(scenario())
    finally:
        d.store.close()


def test_an_instance_whose_leases_expired_by_its_own_clock_does_not_poll(tmp_path: Path, pg_url: str) -> None:
    """No overlapping polls: an instance that did not renew in time (stalled) may have been taken over, so
    it does not start a poll the new holder may be running, even before the database says so."""
    import asyncio

    from monitor.clock import SimulatedClock

    clock = SimulatedClock(NOW)
    d = _daemon(tmp_path, pg_url, clock)
    source = FakeSource("fake:acme")

    async def scenario() -> None:
        await d.lease()
        d.sources = {"fake:acme": source}
        clock.set(NOW + timedelta(seconds=TIMEOUT - 1))
        await d.poll("fake:acme")
        assert source.polls == 1
        clock.set(NOW + timedelta(seconds=TIMEOUT + 1))  # not renewed: expired, though no one took it yet
        await d.poll("fake:acme")
        assert source.polls == 1

    try:
        asyncio.run(scenario())
    finally:
        d.store.close()


def test_x_stream_mode_with_a_postgresql_database_is_refused_at_load_in_one_line(tmp_path: Path, capsys) -> None:
    """Each instance's stream would delete the others' ``monitor:*`` rules: refused before it runs."""
    from monitor.cli import main
    from tests.conftest import ACME, write_config

    cfg = write_config(tmp_path, [ACME], database="postgresql://monitor@db.internal/monitor", x={"mode": "stream"})
    assert main(["check-config", "--config", str(cfg)]) == 2
    [line] = [ln for ln in capsys.readouterr().err.splitlines() if "x.mode" in ln]
    lines = cfg.read_text().splitlines()
    mode_line = next(i for i, ln in enumerate(lines, 1) if ln.strip().startswith("mode:"))
    assert line.startswith(f"{cfg}:{mode_line}: x.mode: stream ") and "x.mode: search" in line, line
    # Alone on SQLite the stream is fine.
    cfg = write_config(tmp_path, [ACME], x={"mode": "stream"})
    assert main(["check-config", "--config", str(cfg)]) == 0


def test_a_poll_in_flight_while_the_leases_change_feeds_the_pipeline_that_runs_on(
        tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline is rebuilt when the watch-lists held change; a poll that was fetching then is stored and
    judged by the new one, not by the old one that is dropped (which would forget it until a restart)."""
    import asyncio

    from devkit.standins.xapi import XApi
    from monitor.clock import SimulatedClock

    monkeypatch.setenv("CLUSTER_X_TOKEN", "x-cluster-bearer-0123456789")
    with XApi(token="x-cluster-bearer-0123456789") as x:
        root = x.add_tweet(COMPLAINT.replace("@acme", "acme"), author="carol", followers=1000)
        for i in range(6):
            x.add_tweet(f"same here, acme did this to me too ({i})", author=f"r{i}", replied_to=root["id"])
        clock = SimulatedClock(datetime.now(UTC))
        d = _daemon(tmp_path, pg_url, clock, ["acme", "globex"],
                    x={"api_url": x.url, "bearer_token_env": "CLUSTER_X_TOKEN"})

        async def scenario() -> None:
            await d.lease()
            assert set(d.view.watchlists) == {"acme", "globex"}
            fetching, go = asyncio.Event(), asyncio.Event()
            source = d.sources["x:acme"]
            real = source.poll

            async def slow_poll(cursor: Any, now: datetime) -> Any:
                result = await real(cursor, now)
                fetching.set()
                await go.wait()
                return result

            source.poll = slow_poll  # type: ignore[method-assign]
            polling = asyncio.create_task(d.poll("x:acme"))
            await fetching.wait()
            old = d.pipeline
            # Another instance appears: this one hands globex over, and its pipeline is rebuilt.
            d.store.heartbeat("b", host="b", pid=1, started=clock.now(), now=clock.now())
            await d.lease()
            assert d.pipeline is not old and set(d.view.watchlists) == {"acme"}
            go.set()
            await polling
            assert d.store.count("mentions") == 7
            assert d.pipeline.detector.has_reactions((f"x:{root['id']}", "acme"))
            await d.detect()
            assert d.store.count("decisions") == 1

        try:
            asyncio.run(scenario())
        finally:
            d.store.close()
