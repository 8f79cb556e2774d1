"""Noise control per watch-list: severity, quiet hours, cooldown, silences and digests.

Decided by the sender when an outbox row falls due, from stored state (the row, the silences
table, the clock), so a restart changes nothing:

* **Severity** (a number; the decision's own ``severity`` wins if it has one):
  cascade = projected/threshold + rate/threshold (rate in reactions per hour; ``reactions`` stands in
  for a missing projection), spike = observed / max(baseline, 1) / 3, and a VIP alert is infinite.
  So a storm just projected to reach the threshold at a slow pace scores about 1, one projected at
  twice the threshold or growing by a threshold's worth an hour scores 2 or more.
* **Quiet hours**: inside ``quiet_hours`` (in its timezone) an alert below ``min_severity`` is held
  until the quiet hours end, then goes out with the others as one morning digest. VIPs and fast
  storms (severity at or above ``min_severity``) go out at once.
* **Cooldown**: an update of a storm waits until ``alert.cooldown`` after the previous alert of the
  same storm was decided (a VIP joining skips the wait). Waiting updates are delayed, never dropped.
* **Silences** (``monitor silence``): a silenced watch-list or cascade gets no messages until the
  silence ends; its alerts are recorded as ``silenced``, not sent later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from monitor.alerts import outbox
from monitor.alerts.outbox import OutboxRow, stamp
from monitor.config.settings import Config, QuietHours, Watchlist
from monitor.records.durations import duration_text
from monitor.records.mention import parse_time
from monitor.store.database import Store

Action = Literal["send", "hold", "silence", "defer"]


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str = ""
    until: datetime | None = None


def _f(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def severity(d: dict[str, Any]) -> float:
    """How urgent an alert is; see the module docstring for the formula."""
    own = _f(d.get("severity"))
    if own is not None:
        return own
    if d.get("vip"):
        return math.inf
    if d.get("kind") == "spike":
        return (_f(d.get("observed")) or 0.0) / max(_f(d.get("baseline")) or 0.0, 1.0) / 3.0
    threshold = _f(d.get("threshold")) or 0.0
    if threshold <= 0:
        return 0.0
    size = _f(d.get("projected"))
    size = _f(d.get("reactions")) if size is None else size
    return ((size or 0.0) + (_f(d.get("rate")) or 0.0)) / threshold


def is_quiet(qh: QuietHours, now: datetime) -> bool:
    """Is ``now`` inside the quiet hours? ``from`` == ``to`` means never quiet."""
    t = now.astimezone(ZoneInfo(qh.timezone)).time().replace(tzinfo=None)
    start, end = qh.from_, qh.to
    if start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


def quiet_ends(qh: QuietHours, now: datetime) -> datetime:
    """The next end of the quiet hours after ``now``, in UTC (DST handled by zoneinfo)."""
    tz = ZoneInfo(qh.timezone)
    local = now.astimezone(tz)
    end = datetime.combine(local.date(), qh.to, tzinfo=tz)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), qh.to, tzinfo=tz)
    return end.astimezone(UTC)


def when_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def window_text(qh: QuietHours) -> str:
    return f"{qh.from_:%H:%M}–{qh.to:%H:%M} {qh.timezone}"


def judge(store: Store, row: OutboxRow, wl: Watchlist | None, now: datetime) -> Verdict:
    """What to do with a due outbox row now: send it, hold it, drop it as silenced, or defer it."""
    if row.kind == "digest":
        return Verdict("send")
    silence = active_silence(store, row.watchlist, row.root_id, now)
    if silence is not None:
        what = f"cascade {row.root_id}" if silence["root_id"] else f"watch-list {row.watchlist}"
        why = f" ({silence['reason']})" if silence.get("reason") else ""
        return Verdict("silence", f"silenced: {what} until {when_text(silence['until'])}{why}")
    if wl is None:
        return Verdict("send")
    d = row.payload
    sev = severity(d)
    qh = wl.quiet_hours
    if qh is not None and is_quiet(qh, now) and sev < qh.min_severity:
        return Verdict("hold", f"quiet hours {window_text(qh)}: severity {sev:.2f} below {qh.min_severity:g}",
                       quiet_ends(qh, now))
    if row.level == "update" and d.get("decision") != "vip_joined" and wl.alert.cooldown > timedelta(0):
        prev = outbox.last_alert_at(store, row)
        if prev is not None and now < prev + wl.alert.cooldown:
            why = f"{duration_text(wl.alert.cooldown)} since the previous alert of this storm"
            return Verdict("defer", why, prev + wl.alert.cooldown)
    return Verdict("send")


# -- silences -------------------------------------------------------------------------------------
def add_silence(store: Store, *, until: datetime, watchlist: str | None = None, root_id: str | None = None,
                reason: str | None = None) -> int:
    """Silence a watch-list, or a cascade (optionally within one watch-list), until ``until``."""
    if not watchlist and not root_id:
        raise ValueError("a silence needs a watch-list or a cascade")
    return store.add_silence(until=until, watchlist=watchlist, root_id=root_id, reason=reason)


def lift_silence(store: Store, silence_id: int, now: datetime) -> bool:
    """End a silence now. Returns False when there is no such silence."""
    return store.lift_silence(silence_id, now)


def silences(store: Store, now: datetime, *, active_only: bool = True) -> list[dict[str, Any]]:
    out = []
    for s in store.silences():
        if active_only and s.until <= now:
            continue
        out.append({"id": s.id, "watchlist": s.watchlist, "root_id": s.root_id, "until": s.until,
                    "reason": s.reason})
    return out


def active_silence(store: Store, watchlist: str, root_id: str | None, now: datetime) -> dict[str, Any] | None:
    for s in silences(store, now):
        if s["root_id"] is None and s["watchlist"] == watchlist:
            return s
        if s["root_id"] is not None and s["root_id"] == root_id and s["watchlist"] in (None, watchlist):
            return s
    return None


# -- digests --------------------------------------------------------------------------------------
def release_held(store: Store, config: Config, now: datetime) -> list[int]:
    """Turn held rows whose quiet hours are over into one morning digest per watch-list and channel.

    The digest is queued in the outbox and the held rows marked ``digested`` in the same transaction.
    """
    due = outbox.rows(store, "held", due_by=now)
    groups: dict[tuple[str, str], list[OutboxRow]] = {}
    for r in due:
        groups.setdefault((r.watchlist, r.channel), []).append(r)
    made: list[int] = []
    for (wl_name, channel), held in groups.items():
        latest: dict[str, dict[str, Any]] = {}
        for r in held:  # oldest first, so the newest figures of each storm win
            latest[r.root_id or f"#{r.decision_id}"] = r.payload
        wl = config.watchlists.get(wl_name)
        payload = {"kind": "digest", "digest": "quiet", "watchlist": wl_name, "at": stamp(now),
                   "window": window_text(wl.quiet_hours) if wl and wl.quiet_hours else "",
                   "items": list(latest.values()), "decision_ids": [r.decision_id for r in held]}
        with store.transaction():
            did = outbox.queue_message(store, payload, name="quiet_digest", channel=channel, now=now,
                                       root_id=f"digest:quiet:{wl_name}:{stamp(now)}")
            store.mark_digested([r.decision_id for r in held], f"in morning digest #{did}")
        made.append(did)
    return made


def queue_daily_digests(store: Store, config: Config, now: datetime) -> list[int]:
    """Queue today's daily digest for each watch-list once ``slack.digest_at`` has passed (at most
    12 hours late, so a daemon started in the evening does not send the morning's digest)."""
    s = config.settings.slack
    if s.digest_at is None:
        return []
    tz = ZoneInfo(s.digest_timezone)
    local = now.astimezone(tz)
    due_at = datetime.combine(local.date(), s.digest_at, tzinfo=tz)
    if not (due_at <= local < due_at + timedelta(hours=12)):
        return []
    made = []
    for name in sorted(config.watchlists):
        key = f"digest:daily:{name}:{local.date().isoformat()}"
        with store.transaction():
            if store.has_decision(key):
                continue
            payload = daily_digest(store, name, now, period=f"{local.date():%A %d %B %Y}")
            made.append(outbox.queue_message(store, payload, name="daily_digest",
                                             channel=config.channel_for(name), now=now, root_id=key))
    return made


def daily_digest(store: Store, watchlist: str, now: datetime, *, period: str = "") -> dict[str, Any]:
    """Counts, sentiment trend and top complaints of the last 24 hours for one watch-list."""
    day, two = now - timedelta(hours=24), now - timedelta(hours=48)
    today = store.mention_stats(watchlist, day, now)
    previous = store.mention_stats(watchlist, two, day).sentiment
    mentions, complaints, sentiment = today.mentions, today.complaints, today.sentiment
    alerts = spikes = 0
    storms: dict[str, dict[str, Any]] = {}
    for dec in store.alerts_of(watchlist):
        try:
            if not day <= parse_time(dec.at) <= now:
                continue
        except Exception:
            continue
        alerts += dec.kind == "cascade" and dec.level == "new"
        spikes += dec.kind == "spike" and dec.level == "new"
        if dec.kind == "cascade" and dec.root_id:
            storms[dec.root_id] = dec.line()
    top = sorted(storms.values(), key=lambda d: -(_f(d.get("reactions")) or 0))[:5]
    return {"kind": "digest", "digest": "daily", "watchlist": watchlist, "at": stamp(now), "period": period,
            "mentions": mentions, "complaints": complaints, "alerts": alerts, "spikes": spikes,
            "sentiment": {"today": sentiment, "previous": previous}, "top": top}

