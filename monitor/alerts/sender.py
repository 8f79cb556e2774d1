"""The delivery loop: outbox rows out to the notifier, in order, once, spaced, retried.

* Order: rows go out by decision id. Within a channel, a row waiting for a retry holds back the
  rows behind it, so a Slack outage delays everything and reorders nothing. An update never
  overtakes an older alert of its own storm. (A row deferred by the cooldown steps aside.)
* Spacing: posts to one channel are at least ``slack.min_interval`` apart (Slack allows about one
  message a second per channel), waiting on the injected clock; bursts queue, nothing is dropped.
* Retries: 429 waits exactly Retry-After; 5xx and connection errors back off exponentially
  (2 s doubling to 5 min, times a jitter in [0.5, 1) from the injected ``random.Random``) until
  ``slack.delivery_deadline`` after the decision. Permanent errors (``invalid_auth``,
  ``channel_not_found``, ...) fail the row at once and are logged in words.
* Once: the posted ``ts`` (and a storm's thread) is recorded in the same transaction that marks the
  row sent. A row is marked ``in flight`` before each call; if the process dies after Slack accepted
  but before that commit, the restart posts it again with a note saying it may be a repeat.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.alerts import controls, outbox, quiet_hours
from monitor.alerts.actions import judge_update
from monitor.alerts.base import Message, Notifier, Posted
from monitor.alerts.chart import storm_chart
from monitor.alerts.escape import escape_inline
from monitor.alerts.outbox import OutboxRow, Thread
from monitor.alerts.render import render_alert, render_digest, render_update
from monitor.clock import Clock
from monitor.config.settings import Config
from monitor.errors import DeliveryError
from monitor.records.durations import backoff_delay
from monitor.store.database import Store

log = logging.getLogger("monitor.alerts")

STANDALONE_TITLE = ":arrows_counterclockwise: Storm update"
BASE_DELAY = 2.0
MAX_DELAY = 300.0
MAX_IDLE = 30.0


@dataclass(slots=True)
class _Outcome:
    called: bool = False          # a chat.postMessage (or webhook post) was attempted
    blocked: bool = False         # a retry is pending: hold back the rest of this channel
    pause: float | None = None    # Retry-After for this channel


class Sender:
    """Deliver due outbox rows through ``notifier``. One per process, sharing the daemon's Store."""

    def __init__(self, config: Config, store: Store, notifier: Notifier, clock: Clock, *,
                 rng: random.Random | None = None, interactive: bool = False, charts: bool = True,
                 claim: Callable[[int, str], bool] | None = None):
        """``claim(decision_id, watchlist)``: whether this process may deliver that row now (a cluster's
        instances claim each row, monitor/ops/cluster.py); alone, every row is this one's."""
        self.store = store
        self.claim = claim or (lambda _did, _wl: True)
        # True when Socket Mode is on (an app token): storm messages carry the buttons.
        self.interactive = interactive
        self.charts = charts
        self.notifier = notifier
        self.clock = clock
        self.rng = rng or random.Random()
        self.stats: Counter[str] = Counter()
        self._next_post: dict[str, datetime] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.reload(config)

    def reload(self, config: Config) -> None:
        """Take a new config (after a reload): watch-lists, quiet hours, spacing, deadline."""
        self.config = config
        self.min_interval = config.settings.slack.min_interval.total_seconds()
        self.deadline = config.settings.slack.delivery_deadline

    # -- one pass ---------------------------------------------------------------------------------
    async def deliver_due(self) -> int:
        """Deliver every due row, in order, spaced per channel. Returns how many went out."""
        now = self.clock.now()
        for did in quiet_hours.release_held(self.store, self.config, now):
            log.info("alert #%d: quiet hours over, morning digest queued", did)
        for did in quiet_hours.queue_daily_digests(self.store, self.config, now):
            log.info("alert #%d: daily digest queued", did)
        queues: dict[str, deque[int]] = {}
        blocked: set[str] = set()
        for row in outbox.rows(self.store, "pending"):
            if row.channel in blocked:
                continue
            if row.next_attempt_at > now:
                if not (row.last_error or "").startswith("cooldown"):
                    blocked.add(row.channel)  # waiting for a retry: keep the channel's order
                continue
            queues.setdefault(row.channel, deque()).append(row.decision_id)
        sent_before = self.stats["sent"]
        while queues:
            channel = min(queues, key=lambda c: (self._next_post.get(c, now), queues[c][0]))
            did = queues[channel].popleft()
            if not queues[channel]:
                del queues[channel]
            due = outbox.get(self.store, did)
            if due is None or due.status != "pending" or not self._mine(due) or not self._admit(due):
                continue
            ready = self._next_post.get(channel)
            if ready is not None and (wait := (ready - self.clock.now()).total_seconds()) > 0:
                await self.clock.sleep(wait)
            result = await self._deliver(due)
            if result.called:
                pause = max(self.min_interval, result.pause or 0.0)
                self._next_post[channel] = self.clock.now() + timedelta(seconds=pause)
            if result.blocked:
                queues.pop(channel, None)
        return self.stats["sent"] - sent_before

    def _mine(self, row: OutboxRow) -> bool:
        """A row of a watch-list this process runs, claimed for it (in a cluster, the others' rows are
        left to them; a row whose watch-list no longer exists is any instance's)."""
        return self.claim(row.decision_id, row.watchlist)

    def _admit(self, row: OutboxRow) -> bool:
        """Apply order, silences, quiet hours and the cooldown. True: send it now."""
        if outbox.earlier_unsent(self.store, row):
            return False  # an older alert of this storm goes first
        verdict = quiet_hours.judge(self.store, row, self.config.watchlists.get(row.watchlist), self.clock.now())
        if verdict.action == "send":
            return True
        status = {"silence": "silenced", "hold": "held", "defer": "pending"}[verdict.action]
        note = f"cooldown: {verdict.reason}" if verdict.action == "defer" else verdict.reason
        outbox.set_status(self.store, row.decision_id, status, note, verdict.until)
        self.stats[{"silence": "silenced", "hold": "held", "defer": "deferred"}[verdict.action]] += 1
        log.info("alert #%d (%s, %s) %s: %s", row.decision_id, row.name, row.watchlist,
                 {"silence": "dropped", "hold": "held", "defer": "deferred"}[verdict.action], verdict.reason)
        return False

    async def _deliver(self, row: OutboxRow) -> _Outcome:
        note = None
        if row.outcome_unknown:
            note = (f"re-sent after an interrupted attempt: if alert #{row.decision_id} shows twice, "
                    "it is the same alert")
        outcome = _Outcome()
        try:
            if row.kind == "digest":
                await self._send_plain(row, self._render(row, "digest", note), outcome)
            elif row.level == "update":
                verdict = judge_update(self.store, row.root_id, row.watchlist, row.decision_id,
                                       row.payload.get("reactions"), self._growth_factor(row.watchlist),
                                       self.clock.now())
                if not verdict.send:
                    outbox.set_status(self.store, row.decision_id, "silenced", verdict.note)
                    self.stats["silenced"] += 1
                    log.info("alert #%d (%s, %s) dropped: %s", row.decision_id, row.name, row.watchlist, verdict.note)
                    return outcome
                if verdict.reopened:
                    log.info("alert #%d (%s, %s): %s", row.decision_id, row.name, row.watchlist, verdict.note)
                    note = f"{verdict.note}. {note}" if note else verdict.note
                await self._send_update(row, note, outcome)
            else:
                await self._send_plain(row, self._render(row, "alert", note), outcome)
        except DeliveryError as exc:
            outcome.blocked, outcome.pause = self._failed(row, exc)
        return outcome

    # -- the three kinds of delivery --------------------------------------------------------------
    async def _post(self, row: OutboxRow, channel: str, message: Message, outcome: _Outcome,
                    thread_ts: str | None = None) -> Posted:
        outbox.mark_in_flight(self.store, row.decision_id, self.clock.now())
        outcome.called = True
        return await self.notifier.post(channel, message, thread_ts=thread_ts)

    async def _send_plain(self, row: OutboxRow, message: Message, outcome: _Outcome) -> None:
        """A storm's first message (or a digest): post it; a storm's root becomes its thread."""
        posted = await self._post(row, row.channel, message, outcome)
        thread = None
        if row.kind != "digest" and self.notifier.supports_threads and posted.ts:
            thread = Thread(posted.channel, posted.ts)
        outbox.mark_sent(self.store, row, ts=posted.ts, thread_ts=None, now=self.clock.now(),
                         new_thread=thread)
        self._sent(row, posted)
        if thread is not None:
            await self._chart(row, thread)

    async def _send_update(self, row: OutboxRow, note: str | None, outcome: _Outcome) -> None:
        thread = None
        if self.notifier.supports_threads:
            thread = outbox.thread_for(self.store, row.root_id, row.watchlist)
        if thread is None:
            # Webhook or console, or the storm's first alert never went out (held, silenced, failed):
            # the update stands alone as a full message, and becomes the storm's thread if it can.
            first = self.store.first_sent_alert(row.root_id, row.watchlist) if row.root_id else None
            if first is not None and not self.notifier.supports_threads:
                note = f"follows alert #{first}" + (f"; {note}" if note else "")
            await self._send_plain(row, self._render(row, "standalone", note), outcome)
            return
        ts = row.ts
        if ts is None:
            reply = self._render(row, "reply", note)
            posted = await self._post(row, thread.channel, reply, outcome, thread.ts)
            ts = posted.ts
            outbox.record_reply(self.store, row.decision_id, ts, thread.ts)
        problem = None
        # A newer update due now will edit the root anyway: one edit instead of two.
        if not outbox.later_update_queued(self.store, row, self.clock.now()):
            try:
                await self.notifier.update(thread.channel, thread.ts, self._render(row, "root", None))
            except DeliveryError as exc:
                if exc.retryable:
                    raise  # the reply's ts is recorded: the retry only edits
                problem = f"root not edited: {exc}"
                log.warning("alert #%d: reply posted, but %s", row.decision_id, problem)
        outbox.mark_sent(self.store, row, ts=ts, thread_ts=thread.ts, now=self.clock.now(), note=problem)
        self._sent(row, Posted(ts, thread.channel))
        await self._chart(row, thread)

    def _growth_factor(self, watchlist: str) -> float:
        wl = self.config.watchlists.get(watchlist)
        return wl.alert.growth_factor if wl else 2.0

    def _controls(self, d: dict[str, Any], did: int, *, with_buttons: bool) -> controls.Controls | None:
        """Next step, state and (on a storm's root) the buttons; None for digests and source alerts."""
        root_id, wl = d.get("root_id"), str(d.get("watchlist") or "")
        if d.get("kind") not in ("cascade", "spike") or not isinstance(root_id, str):
            return None
        now = self.clock.now()
        previous = self.store.last_sent_alert(root_id, wl, before=did)
        muted = [x.until for x in self.store.silences() if x.root_id == root_id and x.watchlist in (None, wl)]
        return controls.build(
            d, watchlist=self.config.watchlists.get(wl), state=self.store.alert_state(root_id, wl), now=now,
            previous=previous.payload if previous else None, prev_at=previous.at if previous else None,
            interactive=self.interactive and self.notifier.supports_threads, muted_until=max(muted, default=None),
            markup=self.notifier.markup == "mrkdwn", with_buttons=with_buttons and self.notifier.supports_threads,
            app_token_env=self.config.settings.slack.app_token_env or "SLACK_APP_TOKEN")

    def _render(self, row: OutboxRow, how: str, note: str | None) -> Message:
        return self._render_line(row.payload, row.decision_id, how, note, row.watchlist, row.name, row.root_id)

    def _render_line(self, d: dict[str, Any], did: int, how: str, note: str | None, watchlist: str, name: str,
                     root_id: str | None) -> Message:
        try:
            if how == "digest":
                return render_digest(d, alert_id=did)
            ctl = self._controls(d, did, with_buttons=how != "reply")
            if how == "reply":
                return render_update(d, alert_id=did, note=note, controls=ctl)
            if how == "root":
                return render_alert(d, alert_id=did, updated=self.clock.now().strftime("%H:%M UTC"), controls=ctl)
            if how == "standalone":
                return render_alert(d, alert_id=did, note=note, title=STANDALONE_TITLE, controls=ctl)
            return render_alert(d, alert_id=did, note=note, controls=ctl)
        except Exception as exc:  # a rendering bug must not hold the whole outbox back
            log.exception("alert #%d: could not render (%s); sending a minimal message", did,
                          type(exc).__name__)
            text = (f"Alert #{did} for watch-list {escape_inline(watchlist)} "
                    f"({escape_inline(name)}): details could not be rendered; "
                    f"root {escape_inline(root_id)}")
            return Message(text)

    # -- what the buttons and the chart need --------------------------------------------------------
    async def refresh_root(self, root_id: str, watchlist: str) -> bool:
        """Edit a storm's root message to show its current state (after a button press).

        False when the storm has no thread or nothing was delivered. Raises DeliveryError."""
        thread = outbox.thread_for(self.store, root_id, watchlist)
        latest = self.store.last_sent_alert(root_id, watchlist)
        if thread is None or latest is None or not self.notifier.supports_threads:
            return False
        message = self._render_line(latest.payload, latest.id, "root", None, watchlist, latest.name, root_id)
        await self.notifier.update(thread.channel, thread.ts, message)
        return True

    async def _chart(self, row: OutboxRow, thread: Thread) -> None:
        """Best effort: the storm's chart into its thread. A failure is logged; the alert stands."""
        upload = getattr(self.notifier, "upload", None)
        if not self.charts or upload is None or row.kind != "cascade":
            return
        try:
            png = await asyncio.to_thread(storm_chart, row.payload)
        except Exception as exc:
            log.warning("alert #%d: could not draw the chart (%s)", row.decision_id, type(exc).__name__)
            return
        if png is None:
            return
        try:
            await upload(thread.channel, thread.ts, f"storm-{row.decision_id}.png", png,
                         f"Reactions over time, alert #{row.decision_id}")
        except DeliveryError as exc:
            log.warning("alert #%d: chart not uploaded to the thread: %s", row.decision_id, exc)

    # -- outcomes ---------------------------------------------------------------------------------
    def _sent(self, row: OutboxRow, posted: Posted) -> None:
        self.stats["sent"] += 1
        delay = (self.clock.now() - row.at).total_seconds()
        where = f" (ts {posted.ts})" if posted.ts else ""
        late = f" {delay:.0f} s after the decision" if delay > 60 else ""
        log.info("alert #%d (%s, %s) sent to %s%s%s", row.decision_id, row.name, row.watchlist, row.channel,
                 where, late)

    def _failed(self, row: OutboxRow, exc: DeliveryError) -> tuple[bool, float | None]:
        """Record a failed attempt. Returns (hold the channel back?, Retry-After pause)."""
        now = self.clock.now()
        fresh = outbox.get(self.store, row.decision_id) or row
        attempts = max(fresh.attempts, 1)
        if not exc.retryable:
            outbox.set_status(self.store, row.decision_id, "failed", str(exc))
            self.stats["failed"] += 1
            log.error("alert #%d (%s, %s) to %s failed and will not be retried: %s", row.decision_id,
                      row.name, row.watchlist, row.channel, exc)
            return False, None
        delay = exc.retry_after if exc.retry_after is not None else self.backoff(attempts)
        when = now + timedelta(seconds=delay)
        if when > row.at + self.deadline:
            outbox.set_status(self.store, row.decision_id, "failed",
                              f"gave up after {attempts} attempt(s) over {self.deadline}: {exc}")
            self.stats["failed"] += 1
            log.error("alert #%d (%s, %s) to %s not delivered within %s, giving up: %s", row.decision_id,
                      row.name, row.watchlist, row.channel, self.deadline, exc)
            return False, None
        prefix = outbox.UNCERTAIN + ": " if getattr(exc, "maybe_delivered", False) else ""
        outbox.set_status(self.store, row.decision_id, "pending", f"{prefix}attempt {attempts} failed: {exc}",
                          when)
        self.stats["retried"] += 1
        log.warning("alert #%d to %s: %s; retry %d in %.1f s", row.decision_id, row.channel, exc, attempts,
                    delay)
        return True, exc.retry_after

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts``: exponential, capped, with jitter in [0.5, 1) so that
        it never exceeds the cap."""
        return backoff_delay(attempts, base=BASE_DELAY, cap=MAX_DELAY, rng=self.rng, jitter=(0.5, 1.0))

    # -- running ----------------------------------------------------------------------------------
    def wake(self) -> None:
        """New rows were queued: deliver now rather than at the next idle tick. Thread-safe."""
        if self._wake is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def idle_seconds(self) -> float:
        """How long the loop may sleep: until the next retry, held release or channel slot."""
        now = self.clock.now()
        nxt = outbox.next_due(self.store, now)
        delay = MAX_IDLE if nxt is None else (nxt - now).total_seconds()
        return max(0.01, min(MAX_IDLE, delay))

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; wakes on ``wake()``, retries and quiet-hours ends."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:
                log.exception("alert delivery pass failed; trying again shortly")
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait()),
                       asyncio.ensure_future(self.clock.sleep(self.idle_seconds()))]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()

    async def flush(self, timeout: float) -> int:
        """On graceful stop: deliver what is due now, for at most ``timeout`` seconds.

        Returns how many rows are still waiting (they go out after the next start).
        """
        try:
            await asyncio.wait_for(self.deliver_due(), timeout)
        except TimeoutError:
            log.warning("stopping with alert delivery still in progress; the rest go out after restart")
        left = outbox.counts(self.store).get("pending", 0)
        if left:
            log.info("%d alert(s) still queued; they will be delivered after the next start", left)
        return left
