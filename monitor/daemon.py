"""APScheduler wiring, signals, reload, sd_notify: ``monitor run``.

One asyncio loop. Each source is its own job (``max_instances=1``, coalesced, jittered), so a slow
or failing source never delays the others; detection and delivery are jobs of their own. A change
to monitor.yaml or a watch-list (or SIGHUP) reloads the config; an invalid edit is refused with
one log line per problem and the daemon keeps the last good config.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import logs
from monitor.clock import Clock, SystemClock
from monitor.config import Config, load_config
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline
from monitor.store import Store
from monitor.systemd import Notifier as SystemdNotifier

log = logging.getLogger("monitor.daemon")


def _interval(config: Config, key: str) -> timedelta:
    s = config.settings
    if key.startswith("x:"):
        return s.x.poll_every
    if key.startswith("comments:"):
        return s.blogs.comments_poll_every
    return s.blogs.poll_every


class Daemon:
    def __init__(self, config: Config, *, clock: Clock | None = None, rng: random.Random | None = None):
        self.config = config
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.store = Store(config.database_path)
        self.pipeline = Pipeline(config, self.store, self.clock)
        self.sd = SystemdNotifier.from_env()
        self.scheduler: AsyncIOScheduler | None = None
        self.sources: dict[str, Any] = {}
        self.stopping = asyncio.Event()
        self._mtimes = self._config_mtimes()
        self.http: Any = None
        self._http_settings: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._build_outputs()

    # -- wiring ----------------------------------------------------------------------------
    def _build_outputs(self) -> None:
        from monitor.alerts import build_notifier, notifier_status
        from monitor.alerts.sender import Sender
        from monitor.sources import build_sources, disabled_reasons
        from monitor.sources.http import HttpFetcher

        for secret_env in (self.config.settings.x.bearer_token_env, self.config.settings.slack.token_env,
                           self.config.settings.slack.webhook_url_env):
            from monitor.config import resolve_secret
            secret = resolve_secret(secret_env)
            if secret:
                logs.REDACTOR.add(secret.reveal())
        # One HTTP client for all feeds, so the connection limits hold across sources; replaced only
        # when its settings change, and the old one closed.
        blogs = self.config.settings.blogs
        if self.http is None or self._http_settings != blogs:
            old, self.http, self._http_settings = self.http, HttpFetcher(blogs), blogs
            if old is not None:
                self._background(old.aclose())
        self.sources = {s.key: s for s in build_sources(self.config, self.store, self.clock, self.http,
                                                        rng=self.rng)}
        self.notifier = build_notifier(self.config)
        self.sender = Sender(self.config, self.store, self.notifier, self.clock, rng=self.rng)
        self.off = [*disabled_reasons(self.config), notifier_status(self.config)]

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop yet (start-up): nothing has used the client
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def describe(self) -> list[str]:
        lines = [f"config {self.config.path}; database {self.config.database_path}; "
                 f"{len(self.config.watchlists)} watch-list(s): {', '.join(sorted(self.config.watchlists)) or 'none'}",
                 f"{len(self.sources)} source(s) polling: {', '.join(sorted(self.sources)) or 'none'}"]
        return lines + self.off

    # -- jobs --------------------------------------------------------------------------------
    async def poll(self, key: str) -> None:
        from monitor.sources.runner import poll_source

        source = self.sources.get(key)
        if source is not None:
            await poll_source(source, self.pipeline, self.store, self.clock)
            self.sd.progress()

    async def detect(self) -> None:
        if self.pipeline.detect():
            self.sender.wake()
        self.sd.progress()

    def _schedule_sources(self) -> None:
        assert self.scheduler is not None
        wanted = set(self.sources)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("poll:") and job.id[5:] not in wanted:
                job.remove()
        for key in sorted(wanted):
            every = _interval(self.config, key)
            self._add(f"poll:{key}", self.poll, every, args=(key,))

    def _add(self, job_id: str, func: Callable[..., Coroutine[Any, Any, None]], every: timedelta,
             args: tuple[Any, ...] = ()) -> None:
        assert self.scheduler is not None
        seconds = max(1.0, every.total_seconds())
        self.scheduler.add_job(
            func, "interval", seconds=seconds, args=args, id=job_id, replace_existing=True,
            max_instances=1, coalesce=True, misfire_grace_time=max(1, int(seconds)),
            jitter=min(seconds * 0.1, 30) if seconds >= 5 else None, next_run_time=_soon(),
        )

    # -- reload ------------------------------------------------------------------------------
    def _config_mtimes(self) -> dict[str, float]:
        files = [self.config.path, *self.config.watchlist_dir.glob("*.y*ml")]
        out = {}
        for f in files:
            try:
                out[str(f)] = f.stat().st_mtime
            except OSError:
                continue
        return out

    async def watch_config(self) -> None:
        if self._config_mtimes() != self._mtimes:
            self.reload("file change")

    def reload(self, why: str) -> bool:
        """Load the config again; on any error keep running on the last good one."""
        self.sd.reloading()
        try:
            config = load_config(self.config.path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload refused (%s): %s; still running on the last good config", why, problem)
            self._mtimes = self._config_mtimes()
            self.sd.ready()
            return False
        self.config = config
        self._mtimes = self._config_mtimes()
        self.pipeline.reconfigure(config)
        self._build_outputs()
        if self.scheduler is not None:
            self._schedule_sources()
        log.info("reloaded config (%s): %d watch-list(s), %d source(s)", why, len(config.watchlists),
                 len(self.sources))
        self.sd.ready()
        return True

    # -- life --------------------------------------------------------------------------------
    async def run_once(self) -> None:
        from monitor.sources.runner import poll_source

        await asyncio.gather(*(poll_source(s, self.pipeline, self.store, self.clock) for s in self.sources.values()))
        self.pipeline.detect()
        await self.sender.flush(timeout=30)
        await self.http.aclose()

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.reload("SIGHUP"))
        self.scheduler = AsyncIOScheduler(event_loop=loop)
        self._schedule_sources()
        self._add("detect", self.detect, self.config.settings.detection.every)
        self._add("watch-config", self.watch_config, timedelta(seconds=2))
        self.scheduler.start()
        # Delivery is a loop of its own, not a job: one pass may take many seconds while a burst is
        # spaced out at Slack's one message a second per channel.
        sending = asyncio.create_task(self.sender.run(self.stopping), name="sender")
        self.sd.ready()
        log.info("running; stop with Ctrl-C or SIGTERM")
        await self.stopping.wait()
        log.info("stopping: no new polls; delivering what is queued")
        self.sd.stopping()
        self.scheduler.shutdown(wait=False)
        await sending
        left = await self.sender.flush(timeout=10)
        if left:
            log.warning("%d alert(s) still queued; they go out at the next start", left)
        await self.http.aclose()
        self.store.close()
        log.info("stopped cleanly")


def _soon() -> Any:
    from datetime import datetime

    return datetime.now().astimezone()


def run(config_path: Path | None, *, once: bool = False) -> int:
    config = load_config(config_path)
    logs.setup(os.environ.get("MONITOR_LOG_LEVEL", config.settings.log_level))
    daemon = Daemon(config)
    for line in daemon.describe():
        log.info("%s", line)
    if once:
        asyncio.run(daemon.run_once())
        daemon.store.close()
        return 0
    asyncio.run(daemon.run_forever())
    return 0
