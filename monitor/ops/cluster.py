"""Several instances against one PostgreSQL database: who runs which watch-list.

Each instance (``cluster.instance``, default hostname:pid) heartbeats every third of
``cluster.lease_timeout`` and takes leases, in the database, on the units of work: one per watch-list
(``watchlist:<name>``: its polling, detection and delivery) and ``global`` (the gone-quiet check,
pruning, alerts that belong to no watch-list). It renews what it holds; a lease whose holder stopped
renewing expires after ``lease_timeout`` and another instance takes it over at once: each instance's
next tick comes at the earliest expiry of another's lease (``next_tick``), so a takeover happens within
the timeout, not up to a tick interval after it. An instance
takes at most its fair share (units / live instances, rounded up) and lets go of one unit a tick
while it holds more, so a new instance gets work without waiting for a failure.

Leases are decided by one upsert on the lease row (store/leases.py), so two instances never hold the
same unit; the instance that takes a watch-list rebuilds its cascades and baselines from the database
(the daemon builds a new pipeline, as a restart does).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import socket
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.config.settings import Config
from monitor.records import sourcekey
from monitor.store.database import Store

log = logging.getLogger("monitor.cluster")

GLOBAL = "global"
# How long after another holder's lease expires the tick that takes it comes: the takeover needs the
# expiry strictly passed (leases.py), by this instance's clock.
TAKEOVER_SLACK = timedelta(milliseconds=50)


def watchlist_lease(name: str) -> str:
    return f"watchlist:{name}"


def default_instance() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Cluster:
    store: Store
    instance: str
    timeout_s: float
    started: datetime
    held: set[str] = field(default_factory=set)
    takeovers: int = 0
    valid_until: dict[str, datetime] = field(default_factory=dict)  # by this instance's clock
    others_expire: datetime | None = None  # the earliest expiry of another instance's lease, at the last tick

    @property
    def every_s(self) -> float:
        """How often to tick: three renewals fit in one timeout."""
        return max(0.5, self.timeout_s / 3)

    def tick(self, watchlists: list[str], now: datetime) -> set[str]:
        """Heartbeat, renew, take a fair share of the free or expired units, let go of extra ones.
        Returns the units held after it."""
        self.store.heartbeat(self.instance, host=socket.gethostname(), pid=os.getpid(), started=self.started,
                             now=now)
        units = [GLOBAL, *(watchlist_lease(w) for w in sorted(watchlists))]
        live = max(1, len(self.store.live_instances(now, self.timeout_s)))
        share = math.ceil(len(units) / live)
        held: set[str] = set()
        until = now + timedelta(seconds=self.timeout_s)
        for name in sorted(self.held & set(units)):  # renew first: what we hold stays ours
            if self.store.acquire_lease(name, self.instance, now=now, timeout_s=self.timeout_s)[0]:
                held.add(name)
                self.valid_until[name] = until
            else:
                log.warning("lease %s lost (not renewed in time); another instance runs it now", name)
        for name in sorted(self.held - set(units)):  # a watch-list removed from the config
            self.store.release_lease(name, self.instance)
        for name in units:
            if len(held) >= share:
                break
            if name in held:
                continue
            granted, previous = self.store.acquire_lease(name, self.instance, now=now, timeout_s=self.timeout_s)
            if granted:
                held.add(name)
                self.valid_until[name] = until
                if previous:
                    self.takeovers += 1
                    log.warning("lease %s taken over from %s (it stopped renewing)", name, previous)
                else:
                    log.info("lease %s taken", name)
        if len(held) > share and live > 1:
            extra = max(held - {GLOBAL}) if held - {GLOBAL} else GLOBAL
            self.store.release_lease(extra, self.instance)
            held.discard(extra)
            log.info("lease %s released for another instance (%d live, a share of %d)", extra, live, share)
        self.held = held
        self.valid_until = {k: v for k, v in self.valid_until.items() if k in held}
        # Already expired ones are not waited for: this instance did not take them (its share is full).
        ahead = [le.expires_at for le in self.store.leases() if le.name in units and le.holder != self.instance
                 and le.expires_at is not None and le.expires_at > now]
        self.others_expire = min(ahead, default=None)
        return set(held)

    def next_tick(self, now: datetime) -> datetime:
        """When to tick next (``now``: the last tick's time): after the normal interval, or just after the
        earliest expiry of another instance's lease when that comes sooner, so that a holder that stopped
        renewing is taken over when its lease expires."""
        at = now + timedelta(seconds=self.every_s)
        if self.others_expire is not None:
            at = min(at, self.others_expire + TAKEOVER_SLACK)
        return at

    def current(self, now: datetime) -> bool:
        """Whether every lease held is still unexpired by this instance's own clock: a poll or a delivery
        starts only then, so an instance that stalled past its lease (and may have been taken over)
        does not poll a source the new holder polls."""
        return all(self.valid_until.get(name, now) > now for name in self.held)

    def hold(self, watchlists: Collection[str], now: datetime) -> None:
        """The fence of a write for ``watchlists`` (the pipeline's): inside its transaction, raises
        LeaseLost unless the database still says this instance holds each of their leases. ``current``
        is this instance's own belief, checked before work starts; this is the database's word, checked
        where the work is written, so a holder that stalled in between and was taken over writes nothing."""
        self.store.hold_leases([watchlist_lease(w) for w in watchlists], self.instance, now=now)

    def drop(self, leases: Collection[str]) -> None:
        """Forget leases the database says are another instance's now (LeaseLost): what this instance runs
        shrinks at once, not at its next tick; a later tick may win them back."""
        self.held -= set(leases)
        self.valid_until = {k: v for k, v in self.valid_until.items() if k in self.held}

    def holds_watchlist(self, name: str) -> bool:
        return watchlist_lease(name) in self.held

    def view(self, config: Config) -> Config:
        """``config`` cut down to the watch-lists this instance leases: the config it runs."""
        return dataclasses.replace(config, watchlists={w: wl for w, wl in config.watchlists.items()
                                                       if self.holds_watchlist(w)})

    @staticmethod
    def key_suffix(watchlists: Collection[str]) -> str:
        """What the keys (the cursors) of the sources that read for several watch-lists end in, so that
        another instance reading for other watch-lists keeps its own (records/sourcekey.py)."""
        return sourcekey.cluster_suffix(watchlists)

    def claim(self, decision_id: int, watchlist: str, known: Collection[str], now: datetime) -> bool:
        """Whether this instance may deliver an outbox row now: it holds the row's watch-list (the global
        lease for a watch-list no longer configured) and no other instance is delivering it."""
        lease = watchlist_lease(watchlist) if watchlist in known else GLOBAL
        return self.store.claim_delivery(decision_id, self.instance, lease, now=now, timeout_s=self.timeout_s)

    def leave(self) -> None:
        """A clean stop: the leases go at once rather than after the timeout."""
        self.store.forget_instance(self.instance)
        self.held = set()
