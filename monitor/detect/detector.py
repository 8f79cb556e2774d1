"""Which complaints are spreading: named alert decisions from cascades and volume spikes.

The detector keeps, in memory, every open cascade (a root and its reactions within
``detection.window``) as time-bucketed activity, and per watch-list two complaint-volume
trackers (all complaints, and outage reports alone). ``evaluate(now)`` looks only at cascades that
changed since the last call (a cascade that gets no new reactions can only see its projection
fall) plus one cheap spike check per watch-list.

Every decision has a name and a reason. Only decisions with a ``level`` are alerts:

- ``first_alert`` (new): the root is a complaint and its projected final size (the lower
  confidence bound of the SEISMIC estimate, see monitor/detect/projection.py) or its observed size passes
  the watch-list's threshold (a lower one when the root's author is a VIP);
- ``growth_update`` (update): an alerted cascade has grown ``growth_factor`` times since its last
  alert, outside the cooldown;
- ``vip_joined`` (update): a VIP took part in an alerted cascade;
- ``spike_alert`` (new): a watch-list's complaint volume, or its volume of outage reports, is far
  above its baseline; once per episode.

And, recorded once per cascade so ops can see why something did not alert:
``suppressed_not_complaint``, ``suppressed_too_early`` (the point estimate passes but the evidence
is thin), ``suppressed_below_threshold`` (a complaint projected past half the threshold), and
``suppressed_spike_disabled``. Alert state (level, size at last alert, VIPs announced) is persisted
by the pipeline, so a restart never sends a second ``new`` for the same cascade.

The store is the truth: ``evaluate`` keeps what it changed in the cascades and spike trackers that
gave a decision, and when the pipeline cannot commit those decisions it calls ``undo()``, which puts
them back as they were (and marks the cascades changed), so the next pass decides them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from monitor.config.settings import DetectionSettings, Watchlist
from monitor.detect.cascade import Cascade, Pending, ReportedCounts, RootFields
from monitor.detect.deadlines import Deadlines
from monitor.detect.projection import Activity, Kernel, Projection, ProjectionSettings, effective_reach, project
from monitor.detect.spikes import Spike, SpikeSettings, SpikeTracker, episode_id, hour_of, spike_examples
from monitor.records.decision import CascadeMeasures, Decision, DecisionName, Kind, Level, SpikeMeasures
from monitor.records.durations import duration_text
from monitor.records.mention import Mention, canonical_url, format_time
from monitor.records.scores import Scores
from monitor.records.volume import VolumeCount

GROWTH_BUCKET = timedelta(minutes=10)
GROWTH_BUCKETS = 12
WATCH_SHARE = 0.5  # a complaint projected past this share of the threshold is worth a note
# A cascade last estimated under REJUDGE_BELOW to pass its threshold is estimated again once it has grown by
# REJUDGE_GROWTH (or reached the threshold), not at every reaction: in the zoo's weeks no estimate ever went
# from under 5% to over 40% in one step, and these were most of the estimates.
REJUDGE_BELOW = 0.05
REJUDGE_GROWTH = 1.1


def projection_settings(s: DetectionSettings) -> ProjectionSettings:
    kernel = Kernel(s.kernel_s0.total_seconds(), s.kernel_theta, s.horizon.total_seconds())
    return ProjectionSettings(kernel=kernel, n_star=s.n_star, reach_exponent=s.reach_exponent,
                              follower_cap=s.follower_cap, prior_branching=s.prior_branching,
                              confidence=s.confidence, max_branching=s.max_branching)


def spike_settings(s: DetectionSettings) -> SpikeSettings:
    return SpikeSettings(window=s.spike_window.total_seconds(), min_complaints=s.spike_min_complaints,
                         p_value=s.spike_p_value, ratio=s.spike_ratio,
                         history_hours=max(1, int(s.spike_history.total_seconds() // 3600)))


class Detector:
    def __init__(self, watchlists: Mapping[str, Watchlist], settings: DetectionSettings):
        self.cascades: dict[tuple[str, str], Cascade] = {}   # open cascades with reactions
        self._pending: dict[tuple[str, str], Pending] = {}    # open ones without (see monitor/detect/cascade.py)
        self.spikes: dict[str, SpikeTracker] = {}    # every complaint post, per watch-list
        self.outages: dict[str, SpikeTracker] = {}   # only those of category "outage"
        self.volumes: dict[tuple[str, str], SpikeTracker] = {}  # posts counted by a service, per (watch-list, source)
        self._dirty: set[tuple[str, str]] = set()
        self._expiry: Deadlines[tuple[str, str]] = Deadlines()  # each open cascade at its earliest expiry
        self._channel_sets: dict[tuple[frozenset[str], str], frozenset[str]] = {}
        self._chained: set[str] = set()  # sources whose reposts name the repost they repost, not the original
        self._undo: _Undo | None = None  # what the last evaluate() changed to reach its decisions
        # Told of every storm probability worked out for a complaint not yet alerted, as
        # (watch-list, root id, now, reactions, projection, p_storm): how the benchmark checks calibration.
        self.on_judged: Callable[[str, str, datetime, int, Projection, float], None] | None = None
        self.reconfigure(watchlists, settings)

    def reconfigure(self, watchlists: Mapping[str, Watchlist], settings: DetectionSettings) -> None:
        self.watchlists, self.settings = dict(watchlists), settings
        # Asked for every mention; a pydantic private attribute costs as much as the rest of add_root.
        self._vips = {name: wl.vip_handles for name, wl in self.watchlists.items()}
        self._projection = projection_settings(settings)
        self._spike = spike_settings(settings)
        self._spike_each = replace(self._spike, p_value=self._spike.p_value / 2)  # two tests per watch-list
        self._outage_each = replace(self._spike_each, min_complaints=settings.spike_min_outage_reports)
        for name, wl in self.watchlists.items():
            for tracker in self._volume(name):
                tracker.leave_out_terms(wl.terms)

    # -- feeding ---------------------------------------------------------------------------
    def add_root(self, m: Mention, watchlist: str, scores: Scores, alert_state: dict[str, Any] | None = None
                 ) -> None:
        key = (m.id, watchlist)
        if self.is_open(key):
            return
        cs = scores.complaint
        vips = self._vips.get(watchlist, ())
        vip = bool(vips) and m.author.handle.lstrip("@").lower() in vips
        pending = Pending(RootFields.of(m, scores.sentiment), cs, vip)
        if alert_state:
            c = self._open(key, pending)
            c.level = alert_state.get("level")
            c.alerted_size = alert_state.get("alerted_size") or 0
            c.vips_announced = frozenset(filter(None, (alert_state.get("vips") or "").split(",")))
            c.noted = c.noted | {"restored"}
        else:
            # Not in _dirty: with no reaction yet there is nothing to judge (min_reactions >= 1); the
            # first reaction puts it there. Most roots never get one (see monitor/detect/cascade.py).
            self._pending[key] = pending
        self._expiry.add(m.created_at + self.settings.window, key)
        if cs.is_complaint and m.kind == "post":  # replies, reposts, comments answer something: not independent
            link = canonical_url(m.links[0]) if m.links else None
            who = m.author.id or m.author.handle
            author = f"{m.source}:{who}" if who else None
            every, outage = self._volume(watchlist)
            every.add(m.created_at, m.id, m.full_text, link, author)
            if cs.category == "outage":
                outage.add(m.created_at, m.id, m.full_text, link, author)

    def _open(self, key: tuple[str, str], p: Pending) -> Cascade:
        """The cascade of root ``p``, built (at its first reaction, or restored with alert state)."""
        r, handle = p.root, p.root.handle.lstrip("@").lower()
        c = Cascade(root_id=key[0], watchlist=key[1], root_mention=r, root_at=r.created_at, root_complaint=p.complaint,
                    root_vip=p.vip, activity=Activity(), last_at=r.created_at)
        c.participants[handle] = c.reach = max(0, r.followers or 0)
        c.channels = self._plus(c.channels, r.source)
        if p.vip:
            c.vips = frozenset((handle,))
        self.cascades[key] = c
        return c

    def is_open(self, key: tuple[str, str]) -> bool:
        """Whether cascade ``(root_id, watch-list)`` is watched, with or without reactions."""
        return key in self.cascades or key in self._pending

    def open_count(self) -> int:
        return len(self.cascades) + len(self._pending)

    def has_reactions(self, key: tuple[str, str]) -> bool:
        """Whether cascade ``(root_id, watch-list)`` is open with at least one reaction."""
        return key in self.cascades

    def alert_state(self, key: tuple[str, str]) -> tuple[int, frozenset[str]] | None:
        """(reactions at the last alert, VIPs announced) of an open cascade with reactions, else None."""
        c = self.cascades.get(key)
        return None if c is None else (c.alerted_size, c.vips_announced)

    def recorded_notes(self, key: tuple[str, str], noted: Iterable[str]) -> None:
        """Suppressions recorded for an open cascade before a restart: not recorded again."""
        c = self.cascades.get(key)
        if c is not None:
            c.noted = c.noted | frozenset(noted)

    def growing(self, now: datetime, window: float, at_least: int) -> Iterator[tuple[str, str]]:
        """(watch-list, root's source) of every open complaint with ``at_least`` reactions in the last
        ``window`` seconds: what the daemon polls faster."""
        for c in self.cascades.values():
            if not c.is_complaint:
                continue
            end = c.seconds(now)
            if c.activity.counts_between(end - window, end + 1) >= at_least:
                yield c.watchlist, c.root_mention.source

    def add_reaction(self, m: Mention, root_id: str, watchlist: str, scores: Scores) -> None:
        key = (root_id, watchlist)
        c = self.cascades.get(key)
        if c is None:
            pending = self._pending.pop(key, None)
            if pending is None:
                return
            c = self._open(key, pending)
        at = min(m.created_at, m.observed_at)
        author = m.author
        followers = max(0, author.followers or 0)
        direct = m.parent_id is None or m.parent_id == root_id  # a post linking the root answers it directly
        # On X a repost of a repost names the original, so a repost naming the root may be of any generation
        # (see Activity.add); a source seen to name a repost's real parent keeps the chain, and its reposts
        # of the root are the root's own audience.
        if m.kind == "repost" and not direct:
            self._chained.add(m.source)
        flat = direct and m.kind == "repost" and m.source not in self._chained
        if not direct and m.parent_id is not None:
            c.answers[m.parent_id] = c.answers.get(m.parent_id, 0) + 1
        if c.counts is None or not c.counts.seen_one(m.parent_id or root_id):
            c.activity.add((at - c.root_at).total_seconds(), effective_reach(author.followers, self._projection),
                           direct, flat)
        handle = author.handle.lstrip("@").lower()
        if handle not in c.participants:
            c.participants[handle] = followers
            c.reach += followers
            if handle in self._vips.get(watchlist, ()):
                c.vips = c.vips | {handle}
        if m.source not in c.channels:
            c.channels = self._plus(c.channels, m.source)
        c.sentiment[0 if scores.sentiment <= -0.05 else 2 if scores.sentiment >= 0.05 else 1] += 1
        if len(c.top) < 3 or followers > c.top[-1]["followers"]:
            c.top.append({"id": m.id, "kind": m.kind, "text": m.full_text[:280], "author": m.author.handle,
                          "followers": followers, "url": m.url})
            c.top.sort(key=lambda r: -r["followers"])
            del c.top[3:]
        c.last_at = at if c.last_at is None or at > c.last_at else c.last_at
        c.dirty = True
        self._dirty.add(key)

    def report_counts(self, mention_id: str, root_id: str, watchlist: str, reactions: int, at: datetime) -> bool:
        """A service reports that mention ``mention_id`` (the root, or a post in its cascade) has ``reactions``
        (reposts + replies + quotes) as of ``at``, whether or not we saw them one by one.

        Reactions reported beyond those seen count as unseen reactions, at ``at``: the cascade's size
        is then at least what was reported, and each unseen reactor is given the mean reach of those
        seen (the model's default reach when none was). X's keyword search returns no reposts since
        May 2026, so most of a retweet storm is known only this way. Reactions seen later to the same
        mention take an unseen one's place, never adding to it. Counts that fall (deleted reposts) are
        ignored. Returns whether the cascade grew (it is then judged at the next ``evaluate``)."""
        key = (root_id, watchlist)
        c = self.cascades.get(key)
        if c is None:
            if reactions <= 0 or key not in self._pending:
                return False
            c = self._open(key, self._pending.pop(key))
        rc = c.counts
        if rc is None:
            rc = c.counts = ReportedCounts()
        if reactions <= rc.reported.get(mention_id, 0):
            return False
        direct = mention_id == root_id
        if mention_id not in rc.reported:  # its answers seen before the first report are not unseen ones
            rc.seen[mention_id] = c.activity.count - c.activity.deep if direct else c.answers.get(mention_id, 0)
        rc.reported[mention_id] = reactions
        gap = reactions - rc.seen.get(mention_id, 0) - rc.unseen.get(mention_id, 0)
        if gap <= 0:
            return False
        a = c.activity
        reach = a.reach_sum / a.count if a.count else effective_reach(None, self._projection)
        others = len(c.participants) - 1
        root_followers = max(0, c.root_mention.followers or 0)
        followers = (c.reach - root_followers) / others if others > 0 else float(self._projection.default_followers)
        seconds = max(0.0, (at - c.root_at).total_seconds())
        for _ in range(gap):  # on X a repost of a repost names the original: a direct one of any generation
            a.add(seconds, reach, direct, direct)
        rc.unseen[mention_id] = rc.unseen.get(mention_id, 0) + gap
        rc.unseen_reach += gap * followers
        if c.last_at is None or at > c.last_at:
            c.last_at = at
        c.dirty = True
        self._dirty.add(key)
        return True

    def add_volume(self, counts: Iterable[VolumeCount]) -> None:
        """Posts a service counted for a watch-list (X's counts endpoint), for the volume spike check."""
        for v in counts:
            if v.watchlist in self.watchlists and v.count > 0:
                self.volumes.setdefault((v.watchlist, v.source), SpikeTracker()).add_count(v.start, v.count)

    def _plus(self, channels: frozenset[str], source: str) -> frozenset[str]:
        """``channels`` with ``source``: one shared frozenset per combination (there are a handful)."""
        if source in channels:
            return channels
        key = (channels, source)
        found = self._channel_sets.get(key)
        if found is None:
            found = self._channel_sets[key] = channels | {source}
        return found

    def restore_spike(self, root_id: str) -> None:
        """Mark a spike episode alerted before a restart (root_id ``spike:<watchlist>:<start>``) as open."""
        _, name, start = root_id.split(":", 2)
        for tracker in self._volume(name):
            tracker.restore_episode(datetime.fromisoformat(start))

    def restore_volume(self, observed_from: datetime,
                       roots: Iterable[tuple[str, str, datetime, str | None]]) -> None:
        """Rebuild the hourly complaint history after a restart from stored complaint roots
        ``(id, watch-list, created_at, category)``; roots of open cascades were counted as re-added."""
        for name in self.watchlists:
            for tracker in self._volume(name):
                tracker.known_since(observed_from)
        for mention_id, name, at, category in roots:
            if name not in self.watchlists or self.is_open((mention_id, name)):
                continue
            every, outage = self._volume(name)
            every.count_history(at)
            if category == "outage":
                outage.count_history(at)

    def _volume(self, name: str) -> tuple[SpikeTracker, SpikeTracker]:
        """A watch-list's two volume trackers: every complaint, and outage reports alone."""
        return self.spikes.setdefault(name, SpikeTracker()), self.outages.setdefault(name, SpikeTracker())

    # -- deciding --------------------------------------------------------------------------
    def evaluate(self, now: datetime) -> list[Decision]:
        """The decisions of every changed cascade and of the spike checks at ``now``.

        They hold only once the caller has recorded them: if it cannot, it calls ``undo()``.
        """
        decisions: list[Decision] = []
        undo = _Undo()
        dirty, self._dirty = self._dirty, set()
        for key in sorted(dirty):  # a stable order: replays reproduce their decisions row for row
            c = self.cascades.get(key)
            if c is not None and c.dirty:
                c.dirty = False
                before = _judged_state(c)
                d = self._judge(c, now)
                if d is not None:
                    decisions.append(d)
                    undo.cascades.append((c, before))
        hour = hour_of(now)
        for name, every in self.spikes.items():
            outage = self.outages[name]
            wl = self.watchlists.get(name)
            if wl is None or (every.settled(hour, self._spike_each) and outage.settled(hour, self._outage_each)):
                continue  # nothing counted since a check this hour found nothing
            episodes = [(t, t.episode_start, t.quiet_since) for t in (every, outage)]
            spike = self._check_spikes(every, outage, now)
            if spike is not None:
                decisions.append(self._spike_decision(wl, *spike, now))
                undo.trackers += episodes
        for (name, source), volume in self.volumes.items():
            wl = self.watchlists.get(name)
            open_before, quiet_before = volume.episode_start is not None, volume.quiet_since
            if wl is None or volume.settled(hour, self._spike):
                continue
            found = volume.check(now, self._spike)
            if found is not None and not open_before:
                undo.trackers.append((volume, None, quiet_before))
                decisions.append(self._spike_decision(wl, found, f"{source.upper()} post volume", now))
        self._forget(now)
        self._undo = undo if decisions else None
        return decisions

    def undo(self) -> None:
        """Take back the decisions of the last ``evaluate()``, which could not be recorded: their cascades
        and spike episodes are as before it, and the next ``evaluate()`` decides them again. Once only."""
        undo, self._undo = self._undo, None
        if undo is None:
            return
        for c, state in undo.cascades:
            (c.level, c.alerted_size, c.last_alert_at, c.vips_announced, c.noted, c.judged_size,
             c.judged_p) = state
            key = (c.root_id, c.watchlist)
            if key not in self.cascades:  # expired in the same pass: kept until its decision is recorded
                self.cascades[key] = c
                self._expiry.add((c.last_at or c.root_at) + self.settings.window, key)
            c.dirty = True
            self._dirty.add(key)
        for tracker, start, quiet in undo.trackers:
            tracker.episode_start, tracker.quiet_since = start, quiet

    def _check_spikes(self, every: SpikeTracker, outage: SpikeTracker, now: datetime) -> tuple[Spike, str] | None:
        """One spike episode per watch-list, seen in all its complaints or in its outage reports alone.

        Outage reports ("is it down?") are rare until something is down, so their own baseline is far
        lower and an outage shows there first; each test gets half the p-value, so the two together
        raise no more false spikes than one. Whichever sees an episode first opens it for both.
        """
        open_before = every.episode_start is not None or outage.episode_start is not None
        found = every.check(now, self._spike_each)
        found_outage = outage.check(now, self._outage_each, part_of=every)
        if open_before:
            return None
        spike, scope = (found, "complaints") if found is not None else (found_outage, "outage reports")
        if spike is None:
            return None
        if scope == "complaints":
            # Most of the window's complaints are outage reports: it is an outage, and they are its examples.
            reports = outage.in_window(now, self._outage_each)
            if reports and 2 * len(reports) >= spike.observed:
                spike = replace(spike, examples=spike_examples(reports))
        for t in (every, outage):
            if t.episode_start is None:
                t.restore_episode(spike.start)
        return spike, scope

    def _judge(self, c: Cascade, now: datetime) -> Decision | None:
        wl = self.watchlists.get(c.watchlist)
        if wl is None:
            return None
        a = wl.alert
        threshold = a.effective_vip_threshold if c.root_vip else a.spread_threshold
        if c.level is not None:
            return self._follow_up(c, wl, now, threshold)
        s = self.settings
        if c.size < min(s.min_reactions, threshold) or "suppressed_not_complaint" in c.noted:
            return None  # too small to judge, or not a complaint and already noted as such: nothing to decide
        if c.size < threshold and c.judged_p < REJUDGE_BELOW and c.size < REJUDGE_GROWTH * c.judged_size:
            return None
        p = self._project(c, now)
        p_storm = p.storm_probability(threshold)
        c.judged_size, c.judged_p = c.size, p_storm
        wanted = a.alert_probability
        if self.on_judged is not None and c.is_complaint:
            self.on_judged(c.watchlist, c.root_id, now, c.size, p, p_storm)
        confident = c.size >= threshold or (c.size >= s.min_reactions and p_storm >= wanted)
        if not c.is_complaint:
            if confident:
                return self._note(c, now, DecisionName.SUPPRESSED_NOT_COMPLAINT, threshold, p,
                                  f"{_size_text(c, p)} passes the threshold of {threshold}, but the root is "
                                  f"not a complaint (complaint probability {c.complaint['probability']:.2f})")
            return None
        if confident:
            c.level, c.alerted_size, c.last_alert_at = "new", c.size, now
            c.vips_announced |= c.vips
            why = (f"complaint reached {c.size} reactions" if c.size >= threshold else
                   f"complaint {_percent(p_storm)} likely to reach {threshold} reactions (projected "
                   f"{p.projected:.0f}, at least {p.projected_low:.0f} at {int(s.confidence * 100)}% confidence) "
                   f"from {c.size} so far")
            return self._decision(c, now, DecisionName.FIRST_ALERT, Level.NEW, f"{why} (threshold {threshold})",
                                  threshold, p)
        if p.projected >= threshold:
            return self._note(c, now, DecisionName.SUPPRESSED_TOO_EARLY, threshold, p,
                              f"projected {p.projected:.0f} reactions, but only {_percent(p_storm)} likely to reach "
                              f"the threshold of {threshold} from {c.size} so far (alerts at "
                              f"{_percent(wanted)}, sensitivity {a.sensitivity})")
        if p.projected >= WATCH_SHARE * threshold:
            return self._note(c, now, DecisionName.SUPPRESSED_BELOW_THRESHOLD, threshold, p,
                              f"complaint projected to reach {p.projected:.0f} reactions, below the threshold "
                              f"of {threshold}")
        return None

    def _project(self, c: Cascade, now: datetime) -> Projection:
        """The cascade's projection as of its latest reaction: sources are polled, so what came after it
        is not seen yet, and a projection made at ``now`` would read the wait for the next poll as the
        cascade slowing down."""
        last = c.last_at if c.last_at is not None and c.last_at < now else now
        return project(c.activity, c.seconds(last), self._projection)

    def _follow_up(self, c: Cascade, wl: Watchlist, now: datetime, threshold: int) -> Decision | None:
        new_vips = c.vips - c.vips_announced
        if new_vips:
            c.vips_announced |= new_vips
            c.alerted_size, c.last_alert_at = c.size, now
            p = self._project(c, now)
            return self._decision(c, now, DecisionName.VIP_JOINED, Level.UPDATE,
                                  f"VIP joined: {', '.join(sorted(new_vips))}", threshold, p)
        if c.size >= wl.alert.growth_factor * max(1, c.alerted_size):
            if c.last_alert_at and now - c.last_alert_at < wl.alert.cooldown:
                c.dirty = True  # look again once the cooldown is over
                self._dirty.add((c.root_id, c.watchlist))
                return None
            before, c.alerted_size, c.last_alert_at = c.alerted_size, c.size, now
            p = self._project(c, now)
            return self._decision(c, now, DecisionName.GROWTH_UPDATE, Level.UPDATE,
                                  f"grew from {before} to {c.size} reactions (projected {p.projected:.0f})",
                                  threshold, p)
        return None

    def _note(self, c: Cascade, now: datetime, name: DecisionName, threshold: int, p: Projection, reason: str
              ) -> Decision | None:
        if name in c.noted:
            return None
        c.noted = c.noted | {name}
        return self._decision(c, now, name, None, reason, threshold, p)

    def _decision(self, c: Cascade, now: datetime, name: DecisionName, level: Level | None, reason: str, threshold: int,
                  p: Projection) -> Decision:
        end = c.seconds(now)
        neg, neu, pos = c.sentiment
        root, complaint = c.root, c.complaint
        fields = CascadeMeasures(
            reactions=c.size, score=complaint["probability"], projected=round(p.projected, 1),
            projected_low=round(p.projected_low, 1), rate=round(p.rate, 2),
            acceleration=round(p.acceleration, 2), infectiousness=float(f"{p.infectiousness:.3g}"),
            branching=round(p.branching, 3), reach=c.reach, threshold=threshold,
            p_storm=round(p.storm_probability(threshold), 3),
            share_of_threshold=round(c.size / threshold, 3), age_minutes=round(end / 60, 1),
            channels=sorted(c.channels), vip=c.root_vip or bool(c.vips), vips=sorted(c.vips),
            root=root, complaint=complaint,
            sentiment={"root": root.get("sentiment"), "negative": neg, "neutral": neu, "positive": pos},
            # Up to the latest reaction, not to now: when a source reports late (a blog's comments read at
            # the next poll, late search results) the time after it is not yet seen rather than quiet.
            growth=c.activity.histogram(c.seconds(c.last_at or c.root_at), GROWTH_BUCKET.total_seconds(),
                                        GROWTH_BUCKETS),
            growth_bucket=duration_text(GROWTH_BUCKET, "unit", largest="h"),
            top_reactions=list(c.top),
        )
        rc = c.counts
        if rc is not None:
            fields = replace(fields, reach=c.reach + round(rc.unseen_reach), reported_reactions=rc.total_reported,
                             unseen_reactions=rc.total_unseen)
            if rc.total_unseen:
                reason += (f" ({rc.total_unseen} of them counted from the post's public metrics, not seen one by "
                           "one)")
        return Decision(name, now, Kind.CASCADE, level, c.watchlist, c.root_id, reason, fields)

    def _spike_decision(self, wl: Watchlist, sp: Spike, scope: str, now: datetime) -> Decision:
        window = self._spike.window
        span = duration_text(window, "unit", largest="h")
        b = sp.baseline
        fields = SpikeMeasures(
            reactions=sp.observed, observed=sp.observed, baseline=round(sp.expected, 2),
            dispersion=float(f"{b.dispersion:.3g}"),
            baseline_median_per_hour=b.median, mad=round(1.4826 * b.mad * window / 3600, 2),
            baseline_basis=b.basis, window=span, p_value=float(f"{sp.p_value:.3g}"),
            score=round(sp.observed / max(sp.expected, 1e-9), 2), rate=round(sp.observed * 3600 / window, 2),
            threshold=sp.threshold,
            started_at=format_time(sp.start), top_terms=sp.top_terms, scope=scope,
            examples=[self._example(wl.name, i, t) for i, t in sp.examples if i],
        )
        rid = episode_id(wl.name, sp.start)
        reason = (f"{sp.observed} {scope} in {span} against about {sp.expected:.1f} expected "
                  f"({b.basis} baseline, dispersion {b.dispersion:.2g}, p = {sp.p_value:.1g})")
        if not wl.alert.spike:
            return Decision(DecisionName.SUPPRESSED_SPIKE_DISABLED, now, Kind.SPIKE, None, wl.name, rid,
                            reason + "; spike alerts are off for this watch-list", fields)
        return Decision(DecisionName.SPIKE_ALERT, now, Kind.SPIKE, Level.NEW, wl.name, rid, reason, fields)

    def _example(self, watchlist: str, mention_id: str, text: str) -> dict[str, Any]:
        """A spike's example complaint, with its author and link while its cascade is still open."""
        out: dict[str, Any] = {"id": mention_id, "text": text[:280]}
        key = (mention_id, watchlist)
        c, p = self.cascades.get(key), self._pending.get(key)
        r = c.root_mention if c is not None else p.root if p is not None else None
        if r is not None:
            out.update(author=r.handle, followers=r.followers, url=r.url)
        return out

    def _forget(self, now: datetime) -> None:
        """Drop cascades with no activity for ``detection.window``; amortised O(1) per cascade."""
        window = self.settings.window
        for key in self._expiry.due(now):
            c = self.cascades.get(key)
            if c is None:
                self._pending.pop(key, None)  # its one deadline: created + window
                continue
            last = c.last_at or c.root_at
            if last + window < now:
                del self.cascades[key]
                self._dirty.discard(key)
            else:
                self._expiry.add(last + window, key)


@dataclass(slots=True)
class _Undo:
    """What one ``evaluate()`` changed to reach its decisions (see ``Detector.undo``)."""

    cascades: list[tuple[Cascade, tuple[Any, ...]]] = field(default_factory=list)
    trackers: list[tuple[SpikeTracker, datetime | None, float | None]] = field(default_factory=list)


def _judged_state(c: Cascade) -> tuple[Any, ...]:
    """The fields of ``c`` that judging it may change (see ``Detector.undo``)."""
    return (c.level, c.alerted_size, c.last_alert_at, c.vips_announced, c.noted, c.judged_size, c.judged_p)


def _percent(p: float) -> str:
    return f"{p:.0%}" if 0.01 <= p <= 0.99 else f"{p:.1%}" if 0.001 <= p <= 0.999 else f"{p:.2g}"


def _size_text(c: Cascade, p: Projection) -> str:
    return f"{c.size} reactions" if p.projected <= c.size else f"{c.size} reactions (projected {p.projected:.0f})"
