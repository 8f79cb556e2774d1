"""sources -> store -> scoring -> cascades -> detect -> alerts, in one place.

The live daemon and ``monitor replay`` both drive this class; only the clock differs. ``ingest``
takes what a source fetched (plus the cursor covering it) and stores it atomically; ``detect``
runs the detector at the clock's now and records its decisions (and, when delivering, their outbox
rows) in one transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.cascades.link import Linked, Linker
from monitor.cascades.match import Matcher
from monitor.clock import Clock
from monitor.config.settings import Config
from monitor.detect.detector import Detector
from monitor.records.decision import Decision
from monitor.records.mention import Mention
from monitor.records.volume import VolumeCount
from monitor.scoring.scores import Scorer, Scores
from monitor.store.database import MentionRow, Store, Tracked

log = logging.getLogger(__name__)
SCORE_CHUNK = 500  # texts scored ahead per worker-thread task (about 0.1 s of VADER)
Scored = dict[tuple[str, bool], Scores]  # (text, scored with its cues, as a root's is) -> its scores
# The reported metrics that are reactions a cascade is measured in (X's public_metrics, as x.py names
# them): likes are not, and a blog's comment count is not either (its comments are read one by one).
REACTION_METRICS = ("reposts", "replies", "quotes")


def reported_reactions(m: Mention) -> int | None:
    """The reactions a mention's reported metrics say it has, or None when it reports none."""
    if not m.metrics or not any(k in m.metrics for k in REACTION_METRICS):
        return None
    return sum(int(m.metrics.get(k) or 0) for k in REACTION_METRICS)


@dataclass(slots=True)
class IngestResult:
    received: int = 0
    new: int = 0
    updated: int = 0
    dropped: int = 0
    tracked: list[Linked] = field(default_factory=list)


# Called inside the transactions that store a batch or record decisions, with the watch-lists run and the
# time: raises (LeaseLost) when this instance no longer holds their leases, so the write is rolled back.
Fence = Callable[[Collection[str], datetime], None]


class Pipeline:
    def __init__(self, config: Config, store: Store, clock: Clock, *, scorer: Scorer | None = None,
                 deliver: bool = True, fence: Fence | None = None):
        """``fence``: in a cluster, the lease check of every write (``Cluster.hold``); None alone."""
        self.config = config
        self.fence = fence
        self.store = store
        self.clock = clock
        self.scorer = scorer or Scorer()
        self.deliver = deliver
        self.matcher = Matcher(config.watchlists.values())
        self.linker = Linker(self.matcher, store)
        self.detector = Detector(config.watchlists, config.settings.detection)
        self.counts: dict[str, int] = {}
        self._stored: dict[str, int] = {}       # mentions stored by source since take_stored()
        # Open cascades that got a reaction since the last detect(): the daemon judges them soon.
        self.grown: set[tuple[str, str]] = set()
        self.restored = 0  # open cascades with reactions rebuilt from the store at start
        self._restore()

    def reconfigure(self, config: Config) -> None:
        """Take a new config (hot reload): new terms apply to what arrives from now on."""
        self.config = config
        self.matcher = Matcher(config.watchlists.values())
        self.linker = Linker(self.matcher, self.store)
        self.detector.reconfigure(config.watchlists, config.settings.detection)

    # -- ingest ----------------------------------------------------------------------------
    async def score_ahead(self, mentions: Sequence[Mention]) -> Scored:
        """The batch's scores, worked out in a worker thread ``SCORE_CHUNK`` texts at a time, for
        ``ingest(..., scored=)``: VADER on a batch of long blog posts takes seconds, and the event loop
        must not wait. They are handed over rather than left in the scorer's cache, which keeps only
        the last ``SCORE_CACHE`` texts: a batch larger than that would be scored again on the loop
        (one 30,000-entry feed stalled it for 3 s). Each distinct text is held once, and its scores are
        smaller than the mention they belong to, which the batch holds anyway."""
        work = list(dict.fromkeys((m.full_text, m.parent_id is None) for m in mentions))
        scored: Scored = {}
        for i in range(0, len(work), SCORE_CHUNK):
            scored.update(await asyncio.to_thread(self._score_all, work[i:i + SCORE_CHUNK]))
        return scored

    def _score_all(self, keys: list[tuple[str, bool]]) -> Scored:
        return {k: self.scorer.score(k[0], explain=k[1]) for k in keys}

    def ingest(self, mentions: Sequence[Mention], cursors: dict[str, dict[str, Any]] | None = None, *,
               scored: Scored | None = None) -> IngestResult:
        """Match, link, score and store a batch, and move the cursors covering it, atomically.

        ``scored``: scores worked out ahead (``score_ahead``), by text and whether it is a root's; a
        text not among them is scored here."""
        ahead = scored or {}
        now = self.clock.now()
        unique = list({m.id: m for m in mentions}.values())
        # One query for the batch's ids (seen again?) and its parents (linking's first step asks them).
        stored = self.store.tracked([m.id for m in unique] + [m.parent_id for m in unique if m.parent_id]
                                    ) if unique else {}
        ids = {m.id for m in unique}
        known = {k: v for k, v in stored.items() if k in ids}
        seen_again = [m for m in unique if m.id in known]
        linked: list[Linked] = []
        scores: list[Scores] = []
        with self.store.transaction():
            self._fenced(now)
            moved = {k: v for k, v in (cursors or {}).items() if v}
            if seen_again or moved:
                self.store.write_mentions([], seen_again, moved, now=now)
            pending = [m for m in unique if m.id not in known]
            # Newly tracked mentions may adopt orphans waiting for them, which may adopt more.
            parents: dict[str, Tracked] | None = stored
            for _ in range(50):
                if not pending:
                    break
                step, orphans = self.linker.link(pending, parents)
                parents = None  # adopted orphans' parents may be the mentions just written: asked afresh
                # The scorer keeps recent scores: reposts and templated replies repeat texts.
                step_scores = [self.scorer.score(x.mention.full_text, explain=x.root_id == x.mention.id)
                               if not ahead else self._scored(ahead, x) for x in step]
                self.store.write_mentions(
                    [MentionRow(x.mention, x.root_id, x.watchlists, s.sentiment, s.complaint.probability,
                                s.complaint.specific, s.complaint.category, x.canonical_url)
                     for x, s in zip(step, step_scores, strict=True)], now=now)
                self._touch_cascades(step)
                if orphans:
                    self.store.save_orphans(orphans)
                linked += step
                scores += step_scores
                pending = self.store.take_orphans(Linker.adoption_keys(step)) if step else []
        for x in linked:
            self._stored[x.mention.source] = self._stored.get(x.mention.source, 0) + 1
        reacted: set[tuple[str, str]] = set()
        for x, s in zip(linked, scores, strict=True):
            for wl in x.watchlists:
                if x.root_id == x.mention.id:
                    self.detector.add_root(x.mention, wl, s)
                else:
                    reacted.add((x.root_id, wl))
                    self.detector.add_reaction(x.mention, x.root_id, wl, s)
        # Asked after the loop: a root polled with its first reactions may come after them in ``linked``.
        self.grown |= {key for key in reacted if self.detector.has_reactions(key)}
        # Reported counts (X's public_metrics, from search or post lookup) after every seen reaction of
        # the batch, so a reaction seen in this batch is not also counted as an unseen one.
        # (Only mentions with metrics are looked at: a replay's records have none, and it stays as fast.)
        places = [(m, known[m.id].root_id, known[m.id].watchlists) for m in seen_again if m.metrics]
        places += [(x.mention, x.root_id, x.watchlists) for x in linked if x.mention.metrics]
        for m, root_id, watchlists in places:
            n = reported_reactions(m)
            if n is None:
                continue
            for wl in watchlists:
                if self.detector.report_counts(m.id, root_id, wl, n, m.observed_at):
                    self.grown.add((root_id, wl))
        result = IngestResult(len(mentions), len(linked), len(seen_again),
                              max(0, len(unique) - len(linked) - len(seen_again)), linked)
        for name in ("new", "updated", "dropped"):
            self.counts[name] = self.counts.get(name, 0) + getattr(result, name)
        return result

    def _scored(self, ahead: Scored, x: Linked) -> Scores:
        key = (x.mention.full_text, x.root_id == x.mention.id)
        found = ahead.get(key)
        return found if found is not None else self.scorer.score(key[0], explain=key[1])

    def move_cursors(self, cursors: dict[str, dict[str, Any]]) -> None:
        """Move cursors a poll that found nothing new covered (fenced like ``ingest``)."""
        now = self.clock.now()
        with self.store.transaction():
            self._fenced(now)
            for key, cursor in cursors.items():
                self.store.set_cursor(key, cursor, now=now)

    def _fenced(self, now: datetime) -> None:
        if self.fence is not None:
            self.fence(self.config.watchlists, now)

    def _touch_cascades(self, linked: list[Linked]) -> None:
        roots = [(x.root_id, wl, x.mention.observed_at)
                 for x in linked if x.root_id == x.mention.id for wl in x.watchlists]
        self.store.open_cascades(roots)
        # One update per cascade a batch grows, not per reaction: a storm's batch is mostly one cascade.
        grown: dict[tuple[str, str], list[Any]] = {}
        for x in linked:
            if x.root_id != x.mention.id:
                for wl in x.watchlists:
                    g = grown.get((x.root_id, wl))
                    if g is None:
                        grown[(x.root_id, wl)] = [1, x.mention.observed_at]
                    else:
                        g[0] += 1
                        g[1] = x.mention.observed_at  # the last in the batch, as one update each would leave
        self.store.grow_cascades([(root_id, wl, n, at) for (root_id, wl), (n, at) in grown.items()])

    def add_volume(self, counts: Sequence[VolumeCount]) -> None:
        """Posts a source counted without reading them (X's counts endpoint), for the volume spike check."""
        self.detector.add_volume(counts)

    def take_stored(self) -> dict[str, int]:
        """Mentions stored, by source, since the last call (for the ingest metric)."""
        out, self._stored = self._stored, {}
        return out

    # -- detect ----------------------------------------------------------------------------
    def detect(self) -> list[Decision]:
        """Evaluate every changed cascade and the spike check now; record and return the decisions.

        The decisions and their alert state are recorded in one transaction; when it fails (disk full,
        database locked) the detector takes them back (``Detector.undo``) and this raises what the store
        raised: the next pass decides them again, so no alert is lost to a failed write.
        """
        self.grown.clear()
        decisions = self.detector.evaluate(self.clock.now())
        if not decisions:
            return []
        try:
            self._record(decisions)
        except BaseException:
            self.detector.undo()
            raise
        for d in decisions:
            self.counts[f"decision:{d.name}"] = self.counts.get(f"decision:{d.name}", 0) + 1
            log.info("decision %s for %s in %s: %s", d.name, d.root_id, d.watchlist, d.reason,
                     extra={"decision": d.name, "watchlist": d.watchlist, "root_id": d.root_id})
        return decisions

    def _record(self, decisions: list[Decision]) -> None:
        now = self.clock.now()
        payloads = [d.to_json() for d in decisions]
        with self.store.transaction():
            self._fenced(now)
            for d in decisions:
                if d.level is not None and d.kind == "cascade":
                    state = self.detector.alert_state((d.root_id, d.watchlist))
                    self.store.mark_alerted(d.root_id, d.watchlist, now=now,
                                            size=state[0] if state else d.fields.reactions,
                                            vips=",".join(sorted(state[1])) if state else "")
            if self.deliver:
                from monitor.alerts.outbox import record_decisions
                record_decisions(self.store, payloads, channel_for=self.config.channel_for, now=now)
            else:
                self.store.log_decisions(payloads)

    # -- restart -----------------------------------------------------------------------------
    def _restore(self) -> None:
        """Rebuild the detector's open cascades from the store after a restart; those with reactions
        are judged at the first ``detect()``."""
        open_ = self.store.cascades_since(self.clock.now() - self.config.settings.detection.window)
        # Reactions need only their sentiment to be judged; their complaint score is not re-read.
        neutral = self.scorer.score("").complaint
        for cascade in open_:
            root_id, watchlist = cascade.root_id, cascade.watchlist
            if watchlist not in self.config.watchlists:
                continue
            reported = []
            for m, sentiment, is_root in self.store.cascade_mentions(root_id):
                if is_root:
                    self.detector.add_root(m, watchlist, self.scorer.score(m.full_text),
                                           {"level": cascade.level, "alerted_size": cascade.alerted_size,
                                            "vips": cascade.vips})
                else:
                    self.detector.add_reaction(m, root_id, watchlist, Scores(sentiment or 0.0, neutral))
                if (n := reported_reactions(m)) is not None:
                    reported.append((m, n))
            if reported:  # the stored records hold the last metrics reported, as of the cascade's last news
                latest = max(m.observed_at for m, _ in reported)
                for m, n in reported:
                    self.detector.report_counts(m.id, root_id, watchlist, n, latest)
            if self.detector.has_reactions((root_id, watchlist)):
                self.restored += 1
                # Left dirty: judged at the first pass, since the process may have stopped between
                # storing its last reactions and judging them. The alert state above keeps an alerted
                # cascade from a second ``new``; the notes recorded keep it from a second note.
                self.detector.recorded_notes((root_id, watchlist), self.store.cascade_notes(root_id, watchlist))
        self._restore_spikes()

    def _restore_spikes(self) -> None:
        """Rebuild the volume baselines and the open spike episode of each watch-list after a restart.

        Complaint roots of the open cascades were counted as they were re-added; older ones, back to
        ``detection.spike_history``, are counted here, so a restart neither forgets a brand's usual
        complaint volume nor reads an ordinary hour as a spike. A spike alerted in the last day stays
        one episode, so an outage that outlasts a restart does not get a second ``new`` alert.
        """
        d, now = self.config.settings.detection, self.clock.now()
        since = now - d.spike_history
        first = self.store.first_created_since(since)
        if first is None:
            return
        self.detector.restore_volume(first, self.store.complaint_roots(since, self.scorer.complaint_threshold))
        for wl, root_id in self.store.spike_alerts_since(now - timedelta(days=1)):
            if wl in self.config.watchlists:
                self.detector.restore_spike(root_id)


def decision_line(d: Decision) -> str:
    return json.dumps(d.to_json(), ensure_ascii=False)

