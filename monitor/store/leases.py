"""The cluster family: ``instances`` (each running monitor and its heartbeat) and ``leases`` (which
instance runs which watch-list's polling, detection and delivery, until when). The policy (how many
to take, when to let go) is monitor/ops/cluster.py; this module only reads and writes the rows.

Times are the instances' own clocks (``stamp``): hosts of one cluster keep NTP time, and a lease
timeout (30 s by default) is far longer than their skew.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from monitor.errors import LeaseLost
from monitor.records.mention import lenient_time
from monitor.store.base import Tables, stamp
from monitor.store.dialect import row_lock


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Instance:
    instance: str
    host: str
    pid: int
    started_at: datetime | None
    heartbeat_at: datetime | None


class LeaseTables(Tables):
    def heartbeat(self, instance: str, *, host: str, pid: int, started: datetime, now: datetime) -> None:
        """``instance`` is alive at ``now``."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO instances (instance, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(instance) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
                " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
                (instance, host, pid, stamp(started), stamp(now)))

    def forget_instance(self, instance: str) -> None:
        """A clean stop: its row and its leases go, so others take them at once."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE holder = ?", (instance,))
            conn.execute("DELETE FROM instances WHERE instance = ?", (instance,))

    def instances(self) -> list[Instance]:
        return [Instance(i, h, int(p), lenient_time(s), lenient_time(b)) for i, h, p, s, b in self.conn.execute(
            "SELECT instance, host, pid, started_at, heartbeat_at FROM instances ORDER BY instance")]

    def live_instances(self, now: datetime, timeout_s: float) -> list[str]:
        """Instances whose heartbeat is younger than ``timeout_s``."""
        since = stamp(_ago(now, timeout_s))
        return [i for (i,) in self.conn.execute(
            "SELECT instance FROM instances WHERE heartbeat_at >= ? ORDER BY instance", (since,))]

    def acquire_lease(self, name: str, holder: str, *, now: datetime, timeout_s: float) -> tuple[bool, str | None]:
        """Take or renew lease ``name`` for ``holder`` until ``now`` + ``timeout_s``: granted when it is
        free, already ``holder``'s, or expired. Returns (granted, the holder it was taken over from)."""
        until = stamp(_ago(now, -timeout_s))
        with self.transaction() as conn:
            row = conn.execute("SELECT holder, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
            before = row[0] if row else None
            # One statement decides: concurrent takers of an expired lease serialise on its row.
            conn.execute(
                "INSERT INTO leases (name, holder, acquired_at, renewed_at, expires_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,"
                " acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at"
                " ELSE excluded.acquired_at END, renewed_at = excluded.renewed_at, expires_at = excluded.expires_at"
                " WHERE leases.holder = excluded.holder OR leases.expires_at < excluded.renewed_at",
                (name, holder, stamp(now), stamp(now), until))
            after = conn.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
        granted = after is not None and after[0] == holder
        return granted, (before if granted and before not in (None, holder) else None)

    def hold_leases(self, names: Collection[str], holder: str, *, now: datetime) -> None:
        """The fence of a write made under leases: called inside its transaction, raises LeaseLost (and so
        rolls the transaction back) unless ``holder`` holds every lease in ``names``, unexpired at ``now``.
        On PostgreSQL the lease rows stay locked ``FOR SHARE`` until the transaction ends, so another
        instance taking one over waits for this write to commit, and never sees half of it."""
        wanted = sorted(set(names))
        if not wanted:
            return
        marks = ",".join("?" * len(wanted))
        with self.transaction() as conn:
            held = {n for (n,) in conn.execute(
                f"SELECT name FROM leases WHERE name IN ({marks}) AND holder = ? AND expires_at > ?"
                + row_lock(self.engine, "SHARE"), (*wanted, holder, stamp(now))).fetchall()}
        lost = [n for n in wanted if n not in held]
        if lost:
            raise LeaseLost(lost, holder)

    def release_lease(self, name: str, holder: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def leases(self) -> list[Lease]:
        return [Lease(n, h, lenient_time(a), lenient_time(r), lenient_time(e)) for n, h, a, r, e in
                self.conn.execute("SELECT name, holder, acquired_at, renewed_at, expires_at FROM leases"
                                  " ORDER BY name")]

    # -- delivery claims ---------------------------------------------------------------------------
    def claim_delivery(self, decision_id: int, holder: str, lease: str, *, now: datetime,
                       timeout_s: float) -> bool:
        """Claim a pending outbox row for delivery by ``holder``, for ``timeout_s``: only while
        ``holder`` holds ``lease`` (the row's watch-list), and only when no other instance's claim on
        it is still current. On PostgreSQL the row is read ``FOR UPDATE SKIP LOCKED``: a row another
        instance is claiming right now is skipped, never waited for, never claimed twice."""
        lock = row_lock(self.engine, "UPDATE SKIP LOCKED")
        with self.transaction() as conn:
            held = conn.execute("SELECT 1 FROM leases WHERE name = ? AND holder = ? AND expires_at > ?",
                                (lease, holder, stamp(now))).fetchone()
            if held is None:
                return False
            row = conn.execute(
                "SELECT decision_id FROM outbox WHERE decision_id = ? AND status = 'pending'"
                " AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until < ?)" + lock,
                (decision_id, holder, stamp(now))).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE decision_id = ?",
                         (holder, stamp(_ago(now, -timeout_s)), decision_id))
            return True


def _ago(now: datetime, seconds: float) -> datetime:
    from datetime import timedelta

    return now - timedelta(seconds=seconds)
