"""APScheduler wiring, signals, reload, sd_notify: ``monitor run``.

One asyncio loop. Each source is its own job (``max_instances=1``, coalesced, jittered), so a slow
or failing source never delays the others; detection, upkeep (metrics, gone-quiet check, pruning)
and config watching are jobs of their own, and delivery is a loop of its own. Detection also runs
``detection.debounce`` after a poll that grew an open cascade (polls finishing within that share
one pass; passes never overlap), so an alert does not wait for the ``detection.every`` tick, which
stays as the floor (cascades whose projection only falls, spikes, expiry). A change to
monitor.yaml or a watch-list (or SIGHUP) reloads the config; an invalid edit is refused with one
log line per problem and the daemon keeps the last good config.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.clock import Clock, SystemClock
from monitor.config.settings import Config, load_config, resolve_secret, watchlist_files
from monitor.engine.debounce import Debounced
from monitor.engine.pipeline import Pipeline
from monitor.errors import ConfigError, DeliveryError, LeaseLost, StoreError
from monitor.ops import logs
from monitor.ops.cluster import GLOBAL, Cluster, default_instance
from monitor.ops.metrics import HealthServer, Metrics, observe_outbox
from monitor.ops.systemd import Notifier as SystemdNotifier
from monitor.records import sourcekey
from monitor.records.durations import duration_text
from monitor.store.lock import DatabaseLock
from monitor.store.opening import PASSWORD_NAME, open_store

log = logging.getLogger("monitor.daemon")

HOT_WINDOW = timedelta(minutes=15)
STOP_JOBS_TIMEOUT = 5.0   # seconds a graceful stop waits for polls in flight
HOT_REACTIONS = 3          # reactions within HOT_WINDOW that make a complaint cascade "growing"


class Daemon:
    def __init__(self, config: Config, *, clock: Clock | None = None, rng: random.Random | None = None):
        self.config = config
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.started = self.clock.now()
        self.store = open_store(config)
        try:
            self.store.probe_write(self.clock.now())  # a read-only file, a full disk: say so, do not start
        except StoreError:
            self.store.close()
            raise
        # On PostgreSQL, several instances share the work by leases (monitor/ops/cluster.py): this one
        # runs only the watch-lists it holds, ``self.view`` (the config cut down to them).
        self.cluster: Cluster | None = None
        if self.store.engine == "postgresql":
            c = config.settings.cluster
            self.cluster = Cluster(self.store, c.instance or default_instance(), c.lease_timeout.total_seconds(),
                                   self.started)
        self.view = self._view(config)
        self.pipeline = self._pipeline(self.view)
        self.metrics = Metrics()
        if self.cluster is not None:
            self.metrics.instance.labels(self.cluster.instance).set(1)
        self.sd = SystemdNotifier.from_env()
        self.scheduler: AsyncIOScheduler | None = None
        self.stopping = asyncio.Event()
        self.http: Any = None
        self.sender: Any = None
        self.buttons: Any = None             # the Socket Mode listener, while connected
        self.app_token: Any = None
        self.sources: dict[str, Any] = {}
        self.hot: set[str] = set()          # poll jobs currently on the fast cadence
        self.last_detect = time.monotonic()
        self.passes = 0
        # A detection pass soon after each poll that grew a cascade; the tick runs through it too.
        self.judge = Debounced(self.detect, config.settings.detection.debounce.total_seconds(), self.clock)
        self._http_settings: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._jobs: set[asyncio.Task[Any]] = set()    # job runs in progress, awaited on stop
        self._mtimes = self._config_mtimes()
        self._build_outputs()

    # -- wiring ----------------------------------------------------------------------------
    def _view(self, config: Config) -> Config:
        """The config this instance runs: all of it alone, the watch-lists it leases in a cluster."""
        return config if self.cluster is None else self.cluster.view(config)

    def _pipeline(self, view: Config) -> Pipeline:
        """A pipeline for ``view``; in a cluster its writes are fenced by the leases (``Cluster.hold``)."""
        return Pipeline(view, self.store, self.clock, fence=None if self.cluster is None else self.cluster.hold)

    def _key_suffix(self) -> str:
        return "" if self.cluster is None else self.cluster.key_suffix(self.view.watchlists)

    def _build_outputs(self) -> None:
        from monitor.alerts import build_notifier, notifier_status
        from monitor.alerts.sender import Sender
        from monitor.sources import build_sources, disabled_reasons, open_network_lines, x_line
        from monitor.sources.http import HttpFetcher

        s = self.config.settings
        for name in (s.x.bearer_token_env, s.slack.token_env, s.slack.webhook_url_env, s.slack.app_token_env,
                     s.teams.webhook_url_env, *s.mastodon.token_envs.values(), PASSWORD_NAME):
            secret = resolve_secret(name)
            if secret:
                logs.REDACTOR.add(secret.reveal())
        # One HTTP client for all feeds, so the connection limits hold across sources; replaced only
        # when its settings change, and the old one closed.
        if self.http is None or self._http_settings != s.blogs:
            old, self.http, self._http_settings = self.http, HttpFetcher(s.blogs), s.blogs
            if old is not None:
                self._background(old.aclose())
        self._close_sources()  # a stream's connection belongs to the source object being replaced
        self.sources = {src.key: src for src in build_sources(
            self.view, self.store, self.clock, self.http, rng=self.rng, matcher=self.pipeline.matcher,
            key_suffix=self._key_suffix(), budget_split=len(self.config.watchlists) or None)}
        notifier = build_notifier(self.config)
        if self.sender is None:
            self.sender = Sender(self.view, self.store, notifier, self.clock, rng=self.rng, claim=self._claim)
        else:  # keep its per-channel spacing and queue state across a reload
            self.sender.notifier = notifier
            self.sender.reload(self.view)
        # Buttons need Socket Mode (an app token) and a bot token (to edit the root message).
        self.app_token = resolve_secret(s.slack.app_token_env) if notifier.name == "slack-bot" else None
        self.sender.interactive = self.app_token is not None and self.buttons is not None
        on = [line for line in (x_line(self.config),) if line]
        self.off = [*on, *disabled_reasons(self.config), *open_network_lines(self.config),
                    notifier_status(self.config)]
        self._note_watchlists()

    def _close_sources(self) -> None:
        for src in self.sources.values():
            close = getattr(src, "aclose", None)
            if close is not None:
                self._background(close())

    def _note_watchlists(self) -> None:
        """Tell ``monitor status`` which watch-lists are in force, by which sources, since when."""
        from monitor.sources import watchlist_sources

        in_force = watchlist_sources(self.view, self.sources)
        try:
            self.store.record_watchlists(in_force, now=self.clock.now())
        except Exception as exc:  # status is then out of date; health shows a failing store
            log.warning("could not note the watch-lists in force for monitor status: %s", exc)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop yet (start-up): nothing has used the client
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def describe(self) -> list[str]:
        wl = self.config.watchlists
        lines = [f"config {self.config.path}; database {self.config.database_path}; "
                 f"{len(wl)} watch-list(s): {', '.join(sorted(wl)) or 'none'}",
                 f"{len(self.sources)} source(s) polling: {', '.join(sorted(self.sources)) or 'none'}"]
        if self.cluster is not None:
            held = ", ".join(sorted(self.view.watchlists)) or "none yet"
            lines.append(f"cluster instance {self.cluster.instance}: runs the watch-lists it leases "
                         f"(lease timeout {self.cluster.timeout_s:g}s): {held}")
        return lines + self.off

    def interval(self, key: str) -> timedelta:
        """A source's poll interval: faster while a complaint it could follow is growing."""
        from monitor.sources import poll_interval

        return poll_interval(self.config.settings, key, fast=f"poll:{key}" in self.hot)

    # -- jobs --------------------------------------------------------------------------------
    async def poll(self, key: str) -> None:
        from monitor.engine.runner import poll_source

        source = self.sources.get(key)
        if source is None:
            return
        if self.cluster is not None and not self.cluster.current(self.clock.now()):
            log.warning("%s: not polled, this instance's leases expired before it renewed them", key)
            return
        kind = sourcekey.kind(key)  # the metrics' label: few, whatever the feed count
        started = time.monotonic()
        try:
            # The pipeline is looked up when the records are stored: a lease change may rebuild it meanwhile.
            result = await poll_source(source, lambda: self.pipeline if key in self.sources else None, self.store,
                                       self.clock, rng=self.rng)
        except LeaseLost as exc:
            self._lease_lost(exc, f"{key}: poll not stored")
            return
        self.metrics.poll_seconds.labels(kind).observe(time.monotonic() - started)
        outcome = "error" if result.detail.get("error") else "parked" if result.detail.get("skipped") else "ok"
        self.metrics.polls.labels(kind, outcome).inc()
        self._count_ingested()
        if self.pipeline.grown:
            self.judge.poke()
        if outcome != "error":
            self.sd.progress()

    def _count_ingested(self) -> None:
        for source, n in self.pipeline.take_stored().items():
            self.metrics.ingested.labels(source).inc(n)

    async def detect(self) -> None:
        """One detection pass; run it through ``self.judge`` (``judge.run()``), so passes never overlap.

        A pass whose decisions cannot be written (disk full, database locked) is logged in one line and
        decided again at the next pass (``Pipeline.detect`` takes it back); the daemon keeps running.
        In a cluster, no pass starts once this instance's leases have expired by its own clock, and one
        whose watch-lists another instance took over meanwhile records nothing (the new holder decides).
        """
        if self.cluster is not None and not self.cluster.current(self.clock.now()):
            log.warning("detection pass skipped: this instance's leases expired before it renewed them")
            return
        try:
            decisions = self.pipeline.detect()
        except LeaseLost as exc:
            self._lease_lost(exc, "detection pass not recorded")
            return
        except (StoreError, OSError) as exc:
            log.error("detection pass not recorded (%s); nothing was lost, the next pass decides it again",
                      _one_line(exc))
            return
        for d in decisions:
            self.metrics.decisions.labels(d.name).inc()
        if any(d.level is not None for d in decisions):
            self.sender.wake()
        if self.passes == 0:
            log.info("first detection pass: %d open cascade(s) rebuilt from the store judged, %d decision(s)",
                     self.pipeline.restored, len(decisions))
        self.passes += 1
        self.last_detect = time.monotonic()
        self._adapt_cadence()
        self.sd.progress()

    def _adapt_cadence(self) -> None:
        """Poll a growing complaint's X query and comment threads faster; back to normal once it cools."""
        now = self.clock.now()
        hot: set[str] = set()
        for watchlist, source in self.pipeline.detector.growing(now, HOT_WINDOW.total_seconds(), HOT_REACTIONS):
            hot.add(f"poll:x:{watchlist}")
            if source in ("rss", "comments"):
                hot.add("poll:comments:threads" + self._key_suffix())
        hot &= {f"poll:{k}" for k in self.sources}
        if hot == self.hot or self.scheduler is None:
            return
        changed, self.hot = hot ^ self.hot, hot
        for job_id in changed:
            if self.scheduler.get_job(job_id) is None:
                continue  # its source went with a reload (a watch-list renamed or removed)
            key = job_id[5:]
            log.info("%s: polling every %s (%s)", key, duration_text(self.interval(key), "unit", largest="m"),
                     "a complaint is growing" if job_id in hot else "back to normal")
            self.scheduler.reschedule_job(job_id, trigger="interval", **_every(self.interval(key)))

    def refresh_gauges(self) -> None:
        """Set the gauges from the store and the detector; also run at every /metrics scrape."""
        observe_outbox(self.metrics, self.store.outbox_counts())
        self.metrics.open_cascades.set(self.pipeline.detector.open_count())
        if not self.config.database_is_url:  # PostgreSQL's size is the server's business
            db = self.config.database_path
            self.metrics.database_bytes.set(sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal"))
                                                if p.exists()))

    async def upkeep(self) -> None:
        """Metrics gauges, gone-quiet sources."""
        from monitor.ops.health import quiet_sources

        try:  # a failing probe shows in /healthz (through the store's write_problem); keep on
            self.store.probe_write(self.clock.now())
        except StoreError as exc:
            log.error("%s", exc)
        self.refresh_gauges()
        if self.cluster is not None and GLOBAL not in self.cluster.held:
            self.sd.progress()
            return  # the gone-quiet check is the holder of the global lease's
        keys = set(self.sources) | {f"rss:{f}" for w in self.config.watchlists.values() for f in w.feeds}
        alerts = quiet_sources(self.store, keys, self.clock.now(), self.config.settings.source_quiet_after,
                               started=self.started)
        if alerts:
            from monitor.alerts.outbox import record_decisions

            try:
                with self.store.transaction():
                    if self.cluster is not None:  # fenced: the global lease may have moved since upkeep began
                        self.store.hold_leases([GLOBAL], self.cluster.instance, now=self.clock.now())
                    record_decisions(self.store, alerts, channel_for=self.config.channel_for, now=self.clock.now())
            except LeaseLost as exc:
                self._lease_lost(exc, "source alerts not recorded")
                alerts = []
            except StoreError as exc:  # checked again at the next upkeep
                log.error("source alerts not recorded (%s); the next upkeep tries again", _one_line(exc))
                alerts = []
            for a in alerts:
                self.metrics.decisions.labels(a["decision"]).inc()
                log.warning("%s", a["reason"], extra={"decision": a["decision"], "source": a["source"]})
            if alerts:
                self.sender.wake()
        self.sd.progress()  # the loop is alive even when every source fails and detection is slow

    async def prune(self) -> None:
        if self.cluster is not None and GLOBAL not in self.cluster.held:
            return
        cutoff = self.clock.now() - self.config.settings.retention
        try:
            deleted = self.store.prune(cutoff)
        except StoreError as exc:
            log.error("pruning failed (%s); the next hour's prune tries again", _one_line(exc))
            return
        if any(deleted.values()):
            log.info("pruned what is older than %s: %s", cutoff.date(),
                     ", ".join(f"{n} {t}" for t, n in deleted.items() if n))

    def health(self) -> tuple[bool, str]:
        limit = 3 * max(1.0, self.config.settings.detection.every.total_seconds()) + 5
        age = time.monotonic() - self.last_detect
        if self.stopping.is_set():
            return False, "stopping"
        problem = self.store.write_problem()
        if problem is not None:
            return False, f"database writes fail: {problem}"
        if age > limit:
            return False, f"detection has not run for {age:.0f}s"
        return True, "ok"

    def _schedule_sources(self) -> None:
        assert self.scheduler is not None
        wanted = set(self.sources)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("poll:") and job.id[5:] not in wanted:
                job.remove()
        existing = {job.id for job in self.scheduler.get_jobs()}
        for key in sorted(wanted):
            if f"poll:{key}" in existing:
                self.scheduler.reschedule_job(f"poll:{key}", trigger="interval", **_every(self.interval(key)))
            else:
                self._add(f"poll:{key}", self.poll, self.interval(key), args=(key,))

    def _add(self, job_id: str, func: Callable[..., Coroutine[Any, Any, None]], every: timedelta,
             args: tuple[Any, ...] = (), *, start_now: bool = True) -> None:
        assert self.scheduler is not None
        interval = _every(every)

        async def job(*a: Any) -> None:
            # Tracked so that a graceful stop lets a poll in flight finish before the store closes.
            task = asyncio.current_task()
            if task is not None:
                self._jobs.add(task)
            try:
                await func(*a)
            finally:
                if task is not None:
                    self._jobs.discard(task)

        # APScheduler 3 reads next_run_time=None as "add paused": leave it out to run after one interval.
        first: dict[str, Any] = {"next_run_time": datetime.now(UTC)} if start_now else {}
        self.scheduler.add_job(
            job, "interval", args=args, id=job_id, replace_existing=True, max_instances=1, coalesce=True,
            misfire_grace_time=max(1, int(interval["seconds"])), **interval, **first,
        )

    # -- cluster -----------------------------------------------------------------------------
    async def lease(self) -> None:
        """Heartbeat and leases (a cluster only); a change in the watch-lists held rebuilds the pipeline
        from the database, as a restart does, and the sources and delivery follow."""
        assert self.cluster is not None
        before = set(self.view.watchlists)
        now = self.clock.now()
        self.cluster.tick(list(self.config.watchlists), now)
        self.metrics.takeovers.set(self.cluster.takeovers)
        self._follow_leases(before)
        self._schedule_lease(now)

    def _schedule_lease(self, now: datetime) -> None:
        """Bring the next lease tick forward to ``Cluster.next_tick`` (another holder's lease expiring
        before the interval's next tick): the takeover then happens within the lease timeout. The
        interval's own ticks go on as before."""
        assert self.cluster is not None
        job = self.scheduler.get_job("lease") if self.scheduler is not None else None
        if job is None:
            return
        # The scheduler runs on the wall clock; the cluster on the daemon's (simulated in tests).
        wanted = datetime.now(UTC) + (self.cluster.next_tick(now) - now)
        if job.next_run_time is None or wanted < job.next_run_time:
            job.modify(next_run_time=wanted)

    def _lease_lost(self, exc: LeaseLost, what: str) -> None:
        """Another instance took over a lease this one wrote under (it stalled): the write was rolled back.
        The lost watch-lists' state here (cascades, baselines) is dropped; winning them back rebuilds it
        from the database, as a takeover does."""
        assert self.cluster is not None
        log.warning("%s: %s; this instance stops running it", what, exc)
        before = set(self.view.watchlists)
        self.cluster.drop(exc.leases)
        self._follow_leases(before)

    def _follow_leases(self, before: set[str]) -> None:
        """Run what the leases held say (``before``: the watch-lists run until now)."""
        assert self.cluster is not None
        self.metrics.leases_held.set(len(self.cluster.held))
        view = self._view(self.config)
        if set(view.watchlists) == before:
            return
        self.view = view
        self.pipeline = self._pipeline(view)
        self._build_outputs()
        if self.scheduler is not None:
            self._schedule_sources()
        log.info("now running watch-list(s) %s: %d open cascade(s) rebuilt from the database",
                 ", ".join(sorted(view.watchlists)) or "none", self.pipeline.restored)
        self.judge.poke()

    def _claim(self, decision_id: int, watchlist: str) -> bool:
        """Whether this instance may deliver an outbox row now (always, alone; a cluster claims it)."""
        return self.cluster is None or self.cluster.claim(decision_id, watchlist, self.config.watchlists,
                                                          self.clock.now())

    async def cycle(self) -> None:
        """One round of every job, in the order the scheduler starts them: each source, detection,
        delivery of what is due, upkeep and pruning. For soak tests and benchmarks that drive the
        daemon's own code on a simulated clock; the live daemon never calls it. The pass the polls
        asked for is this round's detection (the tick's pass takes it in)."""
        if self.cluster is not None:
            await self.lease()
        for key in sorted(self.sources):
            await self.poll(key)
        await self.judge.run()
        await self.sender.deliver_due()
        await self.upkeep()
        await self.prune()

    # -- reload ------------------------------------------------------------------------------
    def _config_mtimes(self) -> dict[str, float]:
        out = {}
        try:
            files = watchlist_files(self.config.watchlist_dir)
        except OSError:
            files = []
        for f in [self.config.path, *files]:
            try:
                out[str(f)] = f.stat().st_mtime
            except OSError:
                continue
        return out

    async def watch_config(self) -> None:
        if self._config_mtimes() != self._mtimes:
            await self.reload("file change")

    async def reload(self, why: str) -> bool:
        """Load the config again; on any error keep running on the last good one.

        The files are read and validated in a worker thread, so a large or hostile watch-list never
        holds the event loop (polls, delivery, health) while it is read; only the swap runs on it.
        """
        self.sd.reloading()
        try:
            config = await asyncio.to_thread(load_checked, self.config.path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload refused (%s): %s; still running on the last good config", why, problem)
            self._mtimes = self._config_mtimes()
            self.sd.ready()
            return False
        if config.database_path != self.config.database_path:
            log.warning("database moved to %s in the config: takes effect at the next restart",
                        config.database_path)
        self.config = config
        self._mtimes = self._config_mtimes()
        self.view = self._view(config)
        self.pipeline.reconfigure(self.view)
        self.judge.delay = config.settings.detection.debounce.total_seconds()
        self._build_outputs()
        self.hot &= {f"poll:{k}" for k in self.sources}  # a renamed watch-list's job is gone
        if self.scheduler is not None:
            self._schedule_sources()
        log.info("reloaded config (%s): %d watch-list(s), %d source(s)", why, len(config.watchlists),
                 len(self.sources))
        self.sd.ready()
        return True

    async def _reload_quietly(self, why: str) -> None:
        await self.reload(why)

    # -- life --------------------------------------------------------------------------------
    async def run_once(self) -> None:
        """Poll every source once (blogs before X, so shares of a new post find it), detect, deliver."""
        from monitor.engine.runner import poll_source

        if self.cluster is not None:
            await self.lease()
        x_kinds = ("x:", "xlookup:", "xstream:")
        blogs = [s for s in self.sources.values() if not s.key.startswith(x_kinds)]
        xs = [s for s in self.sources.values() if s.key.startswith(x_kinds)]
        for group in (blogs, xs):
            for got in await asyncio.gather(*(poll_source(s, self.pipeline, self.store, self.clock, rng=self.rng)
                                              for s in group), return_exceptions=True):
                if isinstance(got, LeaseLost):
                    log.warning("poll not stored: %s", got)
                elif isinstance(got, BaseException):
                    raise got
        try:
            self.pipeline.detect()  # one pass after every poll: the polls themselves need no debounce
        except LeaseLost as exc:
            log.warning("detection pass not recorded: %s", exc)
        left = await self.sender.flush(timeout=30)
        if left:
            log.warning("%d alert(s) still queued; they go out at the next run", left)
        await self.http.aclose()

    async def _start_buttons(self) -> None:
        """Connect Socket Mode when an app token is set, so the alerts' buttons work; without it (or
        when it fails) alerts go out without buttons and say how to turn them on."""
        from monitor.alerts.interactive import ButtonHandler, SocketMode

        if self.app_token is None:
            return
        s = self.config.settings.slack
        sm = SocketMode(self.app_token, ButtonHandler(self.store, self.sender, self.clock), api_url=s.api_url,
                        token_env=s.app_token_env or "")
        try:
            await sm.start()
        except DeliveryError as exc:
            log.error("Socket Mode did not connect, alerts go out without buttons: %s", exc)
            return
        self.buttons = sm
        self.sender.interactive = True

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._background(self._reload_quietly("SIGHUP")))
        listener = None
        if self.config.settings.http.listen:
            listener = HealthServer(self.config.settings.http.listen, self.metrics, self.health,
                                    refresh=self.refresh_gauges)
            await listener.start()
        self.scheduler = AsyncIOScheduler(event_loop=loop)
        if self.cluster is not None:
            await self.lease()  # before the first poll: what this instance runs
            self._add("lease", self.lease, timedelta(seconds=self.cluster.every_s), start_now=False)
        self._schedule_sources()
        # The floor; the first run, at once, judges the cascades restored from the store.
        self._add("detect", self.judge.run, self.config.settings.detection.every)
        self._add("watch-config", self.watch_config, timedelta(seconds=2), start_now=False)
        self._add("upkeep", self.upkeep, timedelta(seconds=15))
        self._add("prune", self.prune, timedelta(hours=1))
        self.scheduler.start()
        if self.cluster is not None:
            self._schedule_lease(self.clock.now())  # the first tick's leases, read before the job existed
        # Delivery is a loop of its own, not a job: one pass may take many seconds while a burst is
        # spaced out at Slack's one message a second per channel.
        await self._start_buttons()
        sending = asyncio.create_task(self.sender.run(self.stopping), name="sender")
        self.sd.ready()
        log.info("running; stop with Ctrl-C or SIGTERM")
        await self.stopping.wait()
        log.info("stopping: no new polls; delivering what is queued")
        self.sd.stopping()
        # Pause first: shutdown() cancels running jobs, and a poll in flight should store what it
        # fetched. One still running after STOP_JOBS_TIMEOUT is cancelled; its cursor did not move.
        self.scheduler.pause()
        if self._jobs:
            await asyncio.wait(set(self._jobs), timeout=STOP_JOBS_TIMEOUT)
        self.scheduler.shutdown(wait=False)
        await self.judge.close()
        await sending
        left = await self.sender.flush(timeout=10)
        if left:
            log.warning("%d alert(s) still queued; they go out at the next start", left)
        if self.buttons is not None:
            await self.buttons.close()
        if listener is not None:
            await listener.stop()
        for src in self.sources.values():
            close = getattr(src, "aclose", None)
            if close is not None:
                await close()
        await self.http.aclose()
        if self.cluster is not None:
            self.cluster.leave()  # the others take its watch-lists now, not after the lease timeout
        self.store.close()
        log.info("stopped cleanly")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _every(d: timedelta) -> dict[str, Any]:
    """Interval trigger arguments, the same when a job is added and when its cadence changes.

    At least a second; jitter (a tenth, at most 30 s) spreads the polls of many sources, while short
    test intervals stay exact.
    """
    seconds = max(1.0, d.total_seconds())
    return {"seconds": seconds, "jitter": min(seconds * 0.1, 30) if seconds >= 5 else None}


def load_checked(path: Path | None) -> Config:
    """``load_config``, and what each source would refuse to send (X's query length): the config the
    daemon runs on. Raises ConfigError listing every problem."""
    from monitor.sources import config_problems

    config = load_config(path)
    problems = config_problems(config)
    if not config.watchlists:
        problems.append(f"{config.path}:1: watchlists: no watch-list in {config.watchlist_dir}; add one "
                        "(see config/watchlists/acme.yaml)")
    if problems:
        raise ConfigError(problems)
    return config


def run(config_path: Path | None, *, once: bool = False) -> int:
    config = load_checked(config_path)
    logs.setup(os.environ.get("MONITOR_LOG_LEVEL", config.settings.log_level))
    # Held for the process's life: a second 'monitor run' on this database stops here (StoreError, exit 2).
    # On PostgreSQL several instances are the point: leases divide the work (monitor/ops/cluster.py).
    lock = None if config.database_is_url else DatabaseLock.acquire(config.database_path)
    try:
        daemon = Daemon(config)  # StoreError (exit 2) when the database cannot be written
        for line in daemon.describe():
            log.info("%s", line)
        if once:
            asyncio.run(daemon.run_once())
            if daemon.cluster is not None:
                daemon.cluster.leave()  # its leases go now, not after the timeout
            daemon.store.close()
            return 0
        asyncio.run(daemon.run_forever())
        return 0
    finally:
        if lock is not None:
            lock.release()
