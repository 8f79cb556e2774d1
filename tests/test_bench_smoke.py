"""`make bench` at toy sizes: every section runs and its figure lands in the table."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the repository, not an installed package

from bench.__main__ import table  # noqa: E402
from bench.soak import WINDOW_S, WarmUp, _slope, memory_figures, soak  # noqa: E402
from bench.throughput import throughput  # noqa: E402


@pytest.mark.slow
def test_throughput_replays_a_simulated_file_next_to_vader_alone(tmp_path: Path) -> None:
    t = throughput(tmp_path, 3000)
    assert t["replay"]["mentions"] == t["mentions"] >= 3000
    assert t["vader"] > 0 and 0 < t["ratio"] < 10
    assert t["replay"]["peak_rss_mb"] > 10
    assert t["replay_one_process"]["mentions"] == t["mentions"] and t["replay_one_process"]["workers"] == 0
    out = table({"throughput": t})
    assert "Pipeline throughput" in out and "VADER alone" in out and "peak RSS" in out and "--workers 0" in out


def test_the_soak_slope_is_in_megabytes_a_minute() -> None:
    assert _slope([(0.0, 100.0), (30.0, 100.5), (60.0, 101.0)]) == pytest.approx(1.0)
    assert _slope([(0.0, 80.0), (60.0, 80.0), (120.0, 80.0)]) == 0.0


def test_the_soak_measures_memory_only_after_its_warm_up() -> None:
    # A daemon that grows 0.5 MB a second while its caches fill, then stays flat with some noise.
    samples = [(float(t), 60 + 0.5 * min(t, 150) + (0.1 if t % 2 else 0.0)) for t in range(1, 451)]
    m = memory_figures(samples, steady_from=150.0)
    assert m["rss_first_mb"] == 65.0 and m["rss_warm_up_end_mb"] == 134.6
    assert m["rss_start_mb"] == 135.0 and m["rss_max_mb"] == 135.1 and m["steady_s"] == 300.0
    assert abs(m["rss_slope_mb_per_min"]) < 0.01 and abs(m["rss_slope_second_half_mb_per_min"]) < 0.01
    assert memory_figures(samples, steady_from=420.0)["rss_slope_mb_per_min"] is None  # 30 s: noise, not a figure


def test_the_warm_up_lasts_until_the_score_cache_the_page_cache_and_the_window_are_full() -> None:
    w = WarmUp(score_cache=3, page_cache=1000, settle=30.0)
    for t, text in enumerate(["a", "b", "a", "b", "c"]):
        w.posted(text, float(t))
    w.grew(999, 5.0)
    assert w.texts_full_at == 4.0 and w.ends_at() is None  # a repeated text is scored once, from the cache
    w.grew(1000, 6.0)
    assert w.ends_at() == WINDOW_S + 30.0
    w.grew(5000, 500.0)  # reached once: later growth changes nothing
    assert w.pages_full_at == 6.0


def test_the_soak_row_says_whether_a_steady_state_was_measured() -> None:
    base = {"seconds": 600.0, "tweets": 90_000, "chatter_per_s": 150.0, "database_mb": 120.0,
            "warm_up": WarmUp(8192, 2 * 2**20, 30.0, texts_full_at=55.0, pages_full_at=8.0).figures(),
            "latency": {k: {"storms": 1, "alerted": 1, "median_s": 1.0, "max_s": 1.0, "from_root_median_s": 1.0}
                        for k in ("burst", "steady")}}
    samples = [(float(t), 100.0) for t in range(1, 601)]
    steady = table({"soak": {**base, **memory_figures(samples, 150.0)}})
    assert "steady state over 7.5 min" in steady and "+0.000 MB/min (+0.000 in its second half)" in steady
    assert "warm-up, first 2.5 min (excluded above)" in steady and "score cache 8,192 texts full at 55 s" in steady
    assert "from the X stand-in serving the poll after which the cascade could alert to the Slack" in steady
    short = table({"soak": {**base, **memory_figures(samples, None)}})
    assert "warm-up only" in short and "no steady state reached, so no slope" in short


@pytest.mark.slow
def test_a_short_soak_reports_its_warm_up_and_no_slope(tmp_path: Path) -> None:
    s = soak(22.0, storm_every=10.0, chatter_per_s=20.0, warm_up=False, out=tmp_path)  # one storm, at 8 s
    assert s["tweets"] >= 300 and s["rss_first_mb"] > 10 and s["rss_slope_mb_per_min"] is None
    assert s["warm_up"]["score_cache_full_s"] is None and 0 < s["warm_up"]["distinct_texts"] < 8192
    assert "warm-up only" in table({"soak": s})
    burst = s["latency"]["burst"]
    assert burst["measured"] == burst["alerted"] == 1  # the crossing reaction found, served before the post
    assert 0 < burst["judged_median_s"] <= burst["median_s"]


def test_the_classifier_speed_is_measured_next_to_vader_alone_on_the_same_texts() -> None:
    from bench.classifier import simulated_texts, speed

    c = speed(simulated_texts(40), repeat=1)
    assert c["texts"] == 40 and c["vader_per_s"] > 0 and c["classifier_per_s"] > 0
    assert 0 < c["ratio_both_to_vader"] < 1  # VADER and the classifier together are slower than VADER alone
    out = table({"classifier": {"simulated mentions": c}})
    assert "Complaint classifier, simulated mentions" in out and "of VADER alone" in out


def test_the_zoo_bench_reports_each_family_next_to_its_baseline_on_seeds_kept_for_reporting() -> None:
    from bench.detection import Week
    from bench.zoo import REPORT_SEEDS, TUNING_SEEDS, first_alerts, seeds_of, zoo_figures
    from bench.zoo import table as zoo_table

    assert not set(TUNING_SEEDS) & set(REPORT_SEEDS)
    assert seeds_of("report", 3) == [9001, 9002, 9003] and seeds_of("tuning", 2) == [1, 2]
    weeks: dict[str, list[Week]] = {}
    z = zoo_figures(["hawkes"], which="tuning", weeks=1, keep=weeks)
    f = z["families"]["hawkes"]
    assert f["storms"] >= 1 and f["caught"] >= 1 and f["late"] == f["caught"] - f["before_threshold"]
    assert f["baseline"]["n"] >= 5 and f["watchlist_weeks"] == 2.0
    out = zoo_table(z)
    assert out.splitlines()[2].startswith("hawkes ") and "tuning seeds 1-1" in out
    # What a calibration table needs: each alerted cascade's first alert, and whether it became a storm.
    rows = first_alerts(weeks["hawkes"])
    assert rows and {"p_storm", "storm", "final_size", "reactions", "label"} <= set(rows[0])
    assert sum(r["storm"] for r in rows) == f["caught"]


def test_the_zoo_throughput_table_gives_the_cpu_a_mention_may_cost_for_half_vaders_rate() -> None:
    from bench.zoo import cpu_budget
    from bench.zoo import table as zoo_table

    # VADER alone at 25,000 texts/s is 40 us a text; half its rate leaves 80 us of wall time a mention,
    # on each core the replay can use: its own and one worker's on two cores, never more than the cores.
    assert cpu_budget(25_000, workers=1, cores=2) == 160
    assert cpu_budget(25_000, workers=4, cores=2) == 160
    assert cpu_budget(25_000, workers=0, cores=8) == 80
    tp = {"hawkes": {"mentions": 1000, "unique_texts": 300, "vader": 25_000.0, "ratio": 0.4,
                     "replay": {"rate": 10_000.0, "cpu_seconds": 0.15, "workers": 1}}}
    z = {"families": {}, "set": "report", "seeds": [9001]}
    row = next(line for line in zoo_table(z, tp).splitlines() if line.startswith("hawkes"))
    cells = [c.strip() for c in row.split("|")]
    assert cells[4] == "150"  # CPU a mention: 0.15 s over 1,000
    assert cells[5] == str(round(cpu_budget(25_000, 1, os.cpu_count() or 1)))


def test_a_held_out_generator_is_reported_beside_the_zoo_but_not_pooled_with_it() -> None:
    from bench.zoo import table as zoo_table
    from bench.zoo import zoo_figures

    z = zoo_figures(["hawkes", "outsider"], which="tuning", weeks=1)
    assert z["held_out"] == ["outsider"] and z["families"]["outsider"]["storms"] >= 1
    # The pooled calibration is the zoo's alone: it counts what hawkes' own table counts.
    assert [c["cascades"] for c in z["calibration"]] == [c["cascades"] for c in z["families"]["hawkes"]["calibration"]]
    out = zoo_table(z)
    assert any(line.startswith("outsider* ") for line in out.splitlines())
    assert "calibration, outsider (held out):" in out
    lines = table({"zoo": {"detection": z}})
    assert "Zoo, outsider (held out): storms caught (late)" in lines and "the same for outsider (held out)" in lines
    assert "Zoo, hawkes: storms caught (late)" in lines


def test_the_poll_bench_spreads_more_feeds_than_one_watch_list_may_name_over_several() -> None:
    from bench.polling import poll_cycles
    from monitor.config.watchlist import MAX_FEEDS

    r = poll_cycles(feeds=MAX_FEEDS + 20, hosts=4)
    first, again = r["cycles"]
    assert first["requests"] == again["requests"] == MAX_FEEDS + 20  # every feed polled, once a cycle
    assert first["status"] == {"200": MAX_FEEDS + 20} and again["status"] == {"304": MAX_FEEDS + 20}
