"""Named alert decisions on cascades: one ``new`` per cascade, ``update`` on doubling or a VIP, and
every suppression with its reason. The detector is fed mentions with given scores, so these tests
pin down the decisions, not the classifier."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.clock import SimulatedClock
from monitor.config.settings import SENSITIVITY, DetectionSettings, Watchlist, load_config
from monitor.detect.detector import REJUDGE_BELOW, REJUDGE_GROWTH, Detector
from monitor.detect.projection import Kernel
from monitor.engine.pipeline import Pipeline
from monitor.records.decision import Decision, DecisionName
from monitor.records.mention import Author, Mention
from monitor.records.scores import ComplaintScore, Scores
from monitor.store.database import Store
from tests.conftest import write_config

T0 = datetime(2026, 11, 3, 9, tzinfo=UTC)
THRESHOLD = 100
VIP = "consumerwatch"
NAMES = {"first_alert", "growth_update", "vip_joined", "spike_alert", "suppressed_not_complaint",
         "suppressed_too_early", "suppressed_below_threshold", "suppressed_spike_disabled"}


def watchlist(**alert: Any) -> Watchlist:
    return Watchlist(name="acme", terms=["acme"], vip_authors=[f"@{VIP}"],
                     alert={"spread_threshold": THRESHOLD, **alert})


def detector(**alert: Any) -> Detector:
    return Detector({"acme": watchlist(**alert)}, DetectionSettings())


COMPLAINT = Scores(-0.5, ComplaintScore(0.95, True, True, "billing", ("cue:overcharged",)))
PRAISE = Scores(0.8, ComplaintScore(0.02, False, False, None, ("cue:thanks",)))


def mention(mid: str, minutes: float, *, handle: str | None = None, followers: int = 150,
            parent: str | None = None, kind: str = "post") -> Mention:
    at = T0 + timedelta(minutes=minutes)
    handle = handle or f"user{mid}"
    return Mention(id=mid, source="x", kind=kind, parent_id=parent, url=f"https://x.com/{handle}/status/{mid}",
                   author=Author(handle, handle, followers=followers), text="acme charged me twice", links=[],
                   created_at=at, observed_at=at)


class Run:
    """A detector fed one cascade, evaluated every 30 s of simulated time, as replay and the daemon do."""

    def __init__(self, d: Detector, root: Mention, scores: Scores = COMPLAINT, state: dict[str, Any] | None = None):
        self.d, self.root, self.n = d, root, 0
        self.decisions: list[Decision] = []
        self.now = root.created_at
        d.add_root(root, "acme", scores, state)

    def react(self, minutes: Iterable[float], *, followers: int = 150, handle: str | None = None,
              parent: str | None = None) -> Run:
        for m in minutes:
            self.n += 1
            r = mention(f"r{self.n}", m, handle=handle or f"fan{self.n}", followers=followers,
                        parent=parent or self.root.id, kind="reply")
            self.tick(r.created_at)
            self.d.add_reaction(r, self.root.id, "acme", Scores(-0.3, COMPLAINT.complaint))
        return self

    def tick(self, until: datetime) -> Run:
        while self.now + timedelta(seconds=30) <= until:
            self.now += timedelta(seconds=30)
            self.decisions += self.d.evaluate(self.now)
        return self

    def wait(self, minutes: float) -> Run:
        return self.tick(self.now + timedelta(minutes=minutes))

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.decisions]

    @property
    def alerts(self) -> list[Decision]:
        return [d for d in self.decisions if d.level is not None]


def steady(count: int, every_minutes: float, start: float = 1.0) -> list[float]:
    return [start + i * every_minutes for i in range(count)]


def fizzling(count: int, s0: float = 300.0, theta: float = 0.242) -> list[float]:
    """Minutes of ``count`` reactions spaced as a human reaction-time kernel would space them, then none."""
    k = Kernel(s0, theta, 86400.0)
    out = []
    for i in range(count):
        lo, hi = 0.0, k.horizon
        for _ in range(50):  # invert the kernel's CDF at the reaction's quantile
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if k.cdf(mid) < (i + 0.5) / count else (lo, mid)
        out.append(lo / 60)
    return out


def test_a_complaint_that_passes_the_threshold_alerts_once_as_new() -> None:
    run = Run(detector(), mention("root", 0)).react(steady(150, 4)).wait(5)
    assert [(a.name, a.level) for a in run.alerts][:1] == [("first_alert", "new")]
    assert [a.level for a in run.alerts].count("new") == 1
    assert "threshold 100" in run.alerts[0].reason


def test_a_fast_complaint_alerts_on_its_projection_before_it_reaches_the_threshold() -> None:
    run = Run(detector(), mention("root", 0)).react(steady(80, 0.25)).wait(2)
    first = run.alerts[0]
    assert first.name == "first_alert" and first.fields.reactions < THRESHOLD
    # decided on the probability of passing the threshold, at the default sensitivity (normal)
    assert first.fields.p_storm >= SENSITIVITY["normal"] and "likely to reach 100 reactions" in first.reason
    assert first.fields.projected >= THRESHOLD


@pytest.mark.parametrize(("sensitivity", "later_than"), [("normal", "high"), ("low", "normal")])
def test_a_less_sensitive_watch_list_alerts_later_on_the_same_cascade(sensitivity: str, later_than: str) -> None:
    def first_size(level: str) -> int:
        run = Run(detector(sensitivity=level), mention("root", 0)).react(steady(150, 1)).wait(5)
        return int(run.alerts[0].fields.reactions)

    assert first_size(sensitivity) > first_size(later_than)


def test_an_alert_line_says_how_likely_the_complaint_is_to_pass_the_threshold() -> None:
    run = Run(detector(), mention("root", 0)).react(steady(150, 1)).wait(5)
    p = run.alerts[0].fields.p_storm
    assert 0.0 <= p <= 1.0 and p >= SENSITIVITY["normal"]


def test_a_complaint_judged_unlikely_is_estimated_again_only_once_it_has_grown_by_a_tenth() -> None:
    d = detector()
    judged: list[tuple[int, float]] = []
    d.on_judged = lambda wl, root, now, size, p, p_storm: judged.append((size, p_storm))
    # a slow trickle: one reaction every ten minutes for eight hours, never likely to reach 100
    Run(d, mention("root", 0)).react(steady(48, 10)).wait(5)
    unlikely = [(size, p) for size, p in judged if p < REJUDGE_BELOW]
    assert unlikely and len(judged) < 48 - min(size for size, _ in judged)  # not at every reaction
    for (size, p), (after, _) in zip(judged, judged[1:], strict=False):
        if p < REJUDGE_BELOW:
            assert after >= REJUDGE_GROWTH * size


def test_a_complaint_judged_unlikely_that_then_takes_off_still_alerts_before_the_threshold() -> None:
    run = Run(detector(), mention("root", 0)).react(steady(20, 12)).react(steady(80, 0.2, start=245)).wait(2)
    first = run.alerts[0]
    assert first.name == "first_alert" and first.fields.reactions < THRESHOLD


def test_growth_gives_an_update_each_time_the_cascade_doubles_and_never_a_second_new() -> None:
    run = Run(detector(cooldown="0s"), mention("root", 0)).react(steady(500, 1)).wait(5)
    levels = [a.level for a in run.alerts]
    assert levels.count("new") == 1 and levels[0] == "new"
    sizes = [a.fields.reactions for a in run.alerts]
    assert [a.name for a in run.alerts[1:]] == ["growth_update"] * (len(sizes) - 1) and len(sizes) >= 3
    assert all(b >= 2 * a for a, b in zip(sizes, sizes[1:], strict=False))


def test_an_update_waits_for_the_cooldown_and_is_not_lost() -> None:
    run = Run(detector(cooldown="30m"), mention("root", 0)).react(steady(300, 0.1)).wait(40)
    first, update = run.alerts[:2]
    assert update.name == "growth_update" and update.at - first.at >= timedelta(minutes=30)


def test_a_vip_joining_an_alerted_cascade_is_an_update_naming_them() -> None:
    run = Run(detector(), mention("root", 0)).react(steady(150, 1))
    run.react([160], handle=VIP, followers=250_000).wait(2)
    vip = [a for a in run.alerts if a.name == "vip_joined"]
    assert len(vip) == 1 and vip[0].level == "update" and VIP in vip[0].reason
    assert vip[0].fields.vip and vip[0].fields.vips == [VIP]


def test_a_vip_who_joined_before_the_first_alert_is_in_it_and_not_announced_again() -> None:
    run = Run(detector(), mention("root", 0)).react([1], handle=VIP, followers=250_000).react(steady(150, 1, 2))
    assert "vip_joined" not in run.names
    assert run.alerts[0].name == "first_alert" and run.alerts[0].fields.vips == [VIP]


def test_a_viral_cascade_whose_root_is_no_complaint_is_suppressed_once_with_its_reason() -> None:
    run = Run(detector(), mention("root", 0), PRAISE).react(steady(400, 0.5)).wait(5)
    assert run.alerts == []
    assert run.names == ["suppressed_not_complaint"]
    assert "not a complaint" in run.decisions[0].reason and "0.02" in run.decisions[0].reason


def test_a_vips_own_complaint_alerts_at_the_lower_threshold() -> None:
    small = fizzling(30)  # a cascade of 30: far below 100, past the VIP threshold of 20
    vip = Run(detector(), mention("root", 0, handle=VIP, followers=200_000)).react(small).wait(600)
    anyone = Run(detector(), mention("root", 0, followers=200_000)).react(small).wait(600)
    assert [a.name for a in vip.alerts][:1] == ["first_alert"] and vip.alerts[0].fields.threshold == 20
    assert anyone.alerts == []


def test_the_vip_threshold_can_be_set_per_watch_list() -> None:
    run = Run(detector(vip_threshold=50), mention("root", 0, handle=VIP, followers=200_000))
    run.react(fizzling(30)).wait(600)
    assert run.alerts == []


def test_reach_is_the_sum_of_the_distinct_participants_followers() -> None:
    run = Run(detector(), mention("root", 0, handle="alice", followers=1000))
    run.react([1, 2], handle="bob", followers=200).react([3], handle="carol", followers=50)
    run.react([4], handle="alice", followers=1000)  # the root's author again: already counted
    c = run.d.cascades[("root", "acme")]
    assert c.reach == 1000 + 200 + 50 and c.size == 4


def test_alerts_carry_projection_rate_reach_and_what_to_show() -> None:
    run = Run(detector(), mention("root", 0, followers=1000)).react(steady(80, 0.25)).wait(2)
    f = run.alerts[0].to_json()
    assert f["projected"] >= f["projected_low"] >= f["reactions"] and f["rate"] > 100 and f["reach"] >= 1000
    assert f["p_storm"] >= SENSITIVITY["normal"]
    assert {"score", "reactions", "threshold", "age_minutes", "growth", "top_reactions", "root", "complaint"} <= set(f)
    assert f["complaint"]["category"] == "billing" and f["root"]["id"] == "root"


def test_growth_counts_each_reaction_once_up_to_the_latest_reaction_not_up_to_now() -> None:
    # An hour of comments, read 40 minutes after the last one (a blog's comment feed polled late): the time
    # since is not yet seen, not quiet, so the growth does not end in empty buckets that read as a calm.
    d = detector()
    root = mention("root", 0, followers=1000)
    d.add_root(root, "acme", COMPLAINT)
    for i, m in enumerate(steady(150, 0.4)):
        r = mention(f"r{i}", m, parent="root", kind="reply")
        d.add_reaction(r, "root", "acme", Scores(-0.3, COMPLAINT.complaint))
    [alert] = d.evaluate(T0 + timedelta(minutes=60 + 40, seconds=30))  # a tick off the minute, as every other is
    growth = alert.fields.growth
    assert alert.name == "first_alert"
    assert sum(growth) == 150  # each reaction in one bucket: none counted twice on a bucket's edge
    assert growth[-6:] == [25] * 6, growth  # the hour of comments, ten minutes a bucket, and nothing after
    assert alert.fields.age_minutes == 100.5  # the age is still the root's at the alert


@pytest.mark.parametrize(("s0", "theta"), [(300.0, 0.242), (120.0, 0.4)])
def test_a_big_accounts_complaint_that_fizzles_is_not_alerted(s0: float, theta: float) -> None:
    # Many see it at once: a burst of 70 direct replies, most in the first minutes, and nobody passes
    # it on. The second audience reacts faster than the detector's kernel assumes.
    run = Run(detector(), mention("root", 0, followers=2_000_000)).react(fizzling(70, s0, theta)).wait(600)
    assert run.alerts == []


def test_a_cascade_with_too_few_reactions_never_alerts_however_fast() -> None:
    run = Run(detector(), mention("root", 0)).react(steady(9, 0.05)).wait(2)
    assert run.decisions == []


def test_a_complaint_projected_past_half_the_threshold_is_noted_once() -> None:
    run = Run(detector(), mention("root", 0)).react(steady(40, 1)).wait(600)
    assert run.alerts == []
    assert run.names.count("suppressed_below_threshold") == 1


def test_a_cascade_alerted_before_a_restart_gets_updates_but_no_second_new() -> None:
    state = {"level": "new", "alerted_size": 60, "vips": ""}
    run = Run(detector(cooldown="0s"), mention("root", 0), state=state).react(steady(130, 0.5)).wait(2)
    assert [a.level for a in run.alerts] == ["update"] and run.alerts[0].name == "growth_update"


def test_every_decision_has_a_known_name_and_a_reason() -> None:
    runs = [Run(detector(), mention("a", 0)).react(steady(300, 0.5)),
            Run(detector(), mention("b", 0), PRAISE).react(steady(300, 0.5)),
            Run(detector(), mention("c", 0)).react(steady(40, 1)).wait(120)]
    decisions = [d for r in runs for d in r.decisions]
    assert decisions and all(d.name in NAMES and d.reason for d in decisions)


def test_a_quiet_cascade_is_forgotten_after_the_detection_window() -> None:
    run = Run(detector(), mention("root", 0)).react([1, 2])
    run.d.evaluate(T0 + timedelta(hours=47))
    assert run.d.is_open(("root", "acme"))
    run.d.evaluate(T0 + timedelta(hours=49))
    assert not run.d.is_open(("root", "acme"))


@given(roots=st.lists(st.integers(0, 600), min_size=1, max_size=12),
       reactions=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 3000)), max_size=12))
def test_every_cascade_is_forgotten_at_its_own_window_end_whatever_order_roots_come_in(
        roots: list[int], reactions: list[tuple[int, int]]) -> None:
    d, window = detector(), DetectionSettings().window
    last: dict[str, datetime] = {}
    for i, minute in enumerate(roots):  # roots come in any order: a replay's files are only roughly sorted
        d.add_root(mention(f"root{i}", minute), "acme", COMPLAINT)
        last[f"root{i}"] = T0 + timedelta(minutes=minute)
    for i, (which, minute) in enumerate(sorted(reactions, key=lambda r: r[1])):
        rid = f"root{which % len(roots)}"
        r = mention(f"r{i}", minute, parent=rid, kind="reply")
        d.add_reaction(r, rid, "acme", COMPLAINT)
        last[rid] = max(last[rid], r.created_at)
    for hours in range(47, 52):
        now = T0 + timedelta(hours=hours, minutes=7)
        d.evaluate(now)
        still = {rid for rid, at in last.items() if at + window >= now}
        assert {rid for rid in last if d.is_open((rid, "acme"))} == still and d.open_count() == len(still)


# -- cascades through the pipeline: comments and cross-source links by canonical URL ---------------
@pytest.fixture
def pipe(tmp_path: Path) -> Pipeline:
    cfg = load_config(write_config(tmp_path, [{"name": "acme", "terms": ["acme"], "vip_authors": [f"@{VIP}"],
                                                "alert": {"spread_threshold": 20}}]))
    return Pipeline(cfg, Store(cfg.database_path), SimulatedClock(T0), deliver=False)


def test_a_blog_post_its_comments_and_tweets_linking_it_are_one_cascade_with_one_reach(pipe: Pipeline) -> None:
    url = "https://blog.example.org/2026/11/acme-refund/"
    post = Mention(id="rss:1", source="rss", kind="post", parent_id=None, url=url,
                   author=Author("jo", "jo", followers=None), title="How acme treated me",
                   text="acme charged me twice and refuses to refund. Case #55123.", links=[],
                   created_at=T0, observed_at=T0)
    comments = [Mention(id=f"comment:{i}", source="comments", kind="comment", parent_id="rss:1",
                        url=f"{url}#comment-{i}", author=Author(f"c{i}", f"c{i}"), text="same happened to me",
                        links=[], created_at=T0 + timedelta(minutes=i), observed_at=T0 + timedelta(minutes=i))
                for i in range(1, 4)]
    shares = [Mention(id=f"x:{i}", source="x", kind="post", parent_id=None, url=f"https://x.com/s{i}/status/{i}",
                      author=Author(f"s{i % 5}", f"s{i % 5}", followers=100), text="read this",
                      links=["HTTPS://Blog.Example.org/2026/11/acme-refund?utm_source=twitter#top"],
                      created_at=T0 + timedelta(minutes=5 + i), observed_at=T0 + timedelta(minutes=5 + i))
              for i in range(30)]
    pipe.ingest([post, *comments])
    pipe.ingest(shares)
    pipe.clock.set(T0 + timedelta(minutes=40))  # type: ignore[attr-defined]
    decisions = pipe.detect()
    c = pipe.detector.cascades[("rss:1", "acme")]
    assert c.size == 33 and c.channels == {"rss", "comments", "x"}
    assert c.reach == 5 * 100  # five distinct sharers with 100 followers; unknown counts add nothing
    assert [d.name for d in decisions] == ["first_alert"] and decisions[0].fields.channels == ["comments",
                                                                                                    "rss", "x"]


def test_a_blog_post_linking_a_tracked_tweet_joins_its_cascade_under_any_form_of_its_address(pipe: Pipeline) -> None:
    tweet = replace(mention("x:555", 0, handle="Alice"), url="https://x.com/Alice/status/555")
    pipe.ingest([tweet])
    links = ["https://twitter.com/alice/status/555?s=20", "https://x.com/i/web/status/555",
             "https://mobile.twitter.com/someone/status/555/"]
    posts = [Mention(id=f"rss:{i}", source="rss", kind="post", parent_id=None, url=f"https://blog.example.org/{i}",
                     author=Author("jo", "jo"), text="look at this", links=[link],
                     created_at=T0 + timedelta(minutes=i + 1), observed_at=T0 + timedelta(minutes=i + 1))
             for i, link in enumerate(links)]
    result = pipe.ingest(posts)
    assert [(x.root_id, x.via) for x in result.tracked] == [("x:555", "link")] * 3
    assert pipe.detector.cascades[("x:555", "acme")].size == 3
    # An X post's own address names its id: the urls table keeps only the blog posts'.
    stored = {u for (u,) in pipe.store.conn.execute("SELECT url FROM urls")}
    assert stored == {f"https://blog.example.org/{i}" for i in range(3)}


def test_cascades_judged_in_one_tick_are_decided_in_a_stable_order() -> None:
    # The order must not depend on hash seeding, or two replays of one file record their rows differently.
    d = detector()
    roots = [mention(f"x:{n}", 0) for n in (7, 3, 9, 1, 5, 8, 2, 6)]
    for root in roots:
        d.add_root(root, "acme", COMPLAINT)
        for k in range(THRESHOLD):
            r = mention(f"{root.id}-r{k}", 1, handle=f"fan{k}", parent=root.id, kind="reply")
            d.add_reaction(r, root.id, "acme", Scores(-0.3, COMPLAINT.complaint))
    decided = [x.root_id for x in d.evaluate(T0 + timedelta(minutes=2)) if x.name == "first_alert"]
    assert decided == sorted(r.id for r in roots)


def test_a_root_is_watched_before_its_first_reaction_and_its_cascade_is_built_at_that_reaction() -> None:
    d = detector()
    d.add_root(mention("root", 0, handle="alice", followers=1000), "acme", COMPLAINT)
    assert d.is_open(("root", "acme")) and d.open_count() == 1
    assert d.evaluate(T0 + timedelta(minutes=1)) == [] and ("root", "acme") not in d.cascades
    d.add_reaction(mention("r1", 2, parent="root", kind="reply", handle="bob", followers=10), "root", "acme", COMPLAINT)
    c = d.cascades[("root", "acme")]
    assert (c.size, c.reach, c.root_at, c.is_complaint) == (1, 1010, T0, True) and d.open_count() == 1


def test_the_decision_names_are_the_documented_ones_and_no_other_can_be_made() -> None:
    assert {n.value for n in DecisionName} == NAMES
    with pytest.raises(ValueError):
        # The name is checked before anything else: no measures are needed to see it refused.
        Decision("first_alrt", T0, "cascade", "new", "acme", "x:1", "typo", None)  # type: ignore[arg-type]
