"""``make bench``: every performance figure in one table, each a ratio or a side-by-side measurement.

    python -m bench            # a million mentions, 1,000 feeds, a soak (3 minutes measured), 4 simulated weeks,
                               # and per family of the zoo 6 weeks (report seeds) and 250,000 mentions replayed
    python -m bench --quick    # smaller sizes, about two minutes: a fast check
    python -m bench --only throughput,poll   # some sections: throughput, classifier, profile, poll, soak,
                                             # detection, volume, zoo, cascades, postgres

Progress goes to stderr; the table to stdout, and with everything measured to bench/out/bench.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from typing import Any

from bench import OUT

SECTIONS = ("throughput", "classifier", "profile", "poll", "soak", "detection", "volume", "zoo", "cascades",
            "postgres")


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _at(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f} s"


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def _buckets(calibration: list[dict[str, Any]]) -> str:
    """A calibration table on one line: each bucket, the share of its cascades that became storms."""
    return "; ".join(f"{c['from']:.2f}-{c['to']:.2f}: {c['share'] if c['share'] is not None else '-'} "
                     f"of {c['cascades']}" for c in calibration)


def _half(s: dict[str, Any]) -> str:
    half = s.get("rss_slope_second_half_mb_per_min")
    return "" if half is None else f" ({half:+.3f} in its second half)"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    if "throughput" in r:
        t = r["throughput"]
        rp = t["replay"]
        one = t["replay_one_process"]
        out += [
            ("Pipeline throughput (monitor replay)", f"{_n(rp['rate'])} mentions/s",
             f"{_n(rp['mentions'])} mentions in {rp['seconds']:.0f}s; match, store, score, cascade, detect; "
             f"texts scored ahead by {rp['workers']} worker process(es); {rp['cpu_seconds']:.0f} CPU-s in all"),
            ("  the same replay in one process (--workers 0)", f"{_n(one['rate'])} mentions/s",
             f"{one['seconds']:.0f}s; the like-for-like comparison with VADER on one core"),
            ("  VADER alone, same texts, same run", f"{_n(t['vader'])} texts/s",
             f"before {_n(t['vader_before'])}/s, after {_n(t['vader_after'])}/s"),
            ("  ratio pipeline / VADER alone", f"{t['ratio']:.2f}",
             f"target >= 0.50; in one process {t['ratio_one_process']:.2f}"),
            ("  distinct texts (scores are cached by text)", f"{t['unique_texts'] / t['mentions']:.0%}",
             f"{_n(t['unique_texts'])} of {_n(t['mentions'])}: reposts repeat their original"),
            ("Memory: peak RSS of that replay", f"{rp['peak_rss_mb']:.0f} MB",
             f"over {_n(rp['mentions'])} mentions (reorder buffer 50,000); in one process "
             f"{one['peak_rss_mb']:.0f} MB"),
        ]
    if "classifier" in r:
        for name, c in r["classifier"].items():
            out.append((f"Complaint classifier, {name}", f"{_n(c['classifier_per_s'])} texts/s",
                        f"{c['classifier_us']:.0f} us a text without cues "
                        f"({c['classifier_explained_us']:.0f} us with); "
                        f"VADER alone {c['vader_us']:.0f} us; VADER + classifier {c['ratio_both_to_vader']:.2f} of "
                        f"VADER alone; {c['texts']:,} texts"))
    if "profile" in r:
        p = r["profile"]
        stages = ", ".join(f"{k} {v:.0%}" for k, v in sorted(p["stages"].items(), key=lambda kv: -kv[1]))
        out.append(("Profile of the replay (cProfile, a week)", f"{_n(p['mentions'])} mentions", stages))
        out += [(f"  {name}", f"{share:.0%} own time", "") for name, share in p["top"][:5]]
    if "poll" in r:
        pc = r["poll"]
        for c in pc["cycles"]:
            status = ", ".join(f"{v} x {k}" for k, v in sorted(c["status"].items()))
            out.append((f"Poll cycle, {pc['feeds']:,} feeds, {c['cycle']}", f"{c['wall']:.2f} s",
                        f"{c['connections']} connections for {c['requests']} requests ({status}); "
                        f"{pc['hosts']} hosts, limits {pc['max_connections']} total / {pc['max_per_host']} per host"))
        first, again = pc["cycles"][0]["wall"], pc["cycles"][1]["wall"]
        out.append(("  ratio all-304 / first", f"{again / first:.2f}", "conditional GET, no parsing"))
    if "soak" in r:
        s = r["soak"]
        w = s["warm_up"]
        bounds = (f"score cache {w['score_cache_texts']:,} texts full at {_at(w['score_cache_full_s'])}, "
                  f"page cache {w['page_cache_mb']:g} MB at {_at(w['page_cache_full_s'])}, "
                  f"{w['window_s']:.0f} s detection window, +{w['settle_s']:.0f} s")
        load = (f"{_n(s['tweets'])} tweets polled ({s['chatter_per_s']:g}/s chatter + storms), "
                f"database {s['database_mb']} MB")
        if s["rss_slope_mb_per_min"] is None:
            out.append((f"Memory: daemon soak, {s['seconds'] / 60:.1f} min, warm-up only",
                        f"{s['rss_first_mb']} -> {s['rss_max_all_mb']} MB",
                        f"no steady state reached, so no slope: {bounds}; {load}"))
        else:
            out.append((f"Memory: daemon soak, steady state over {s['steady_s'] / 60:.1f} min",
                        f"{s['rss_start_mb']} -> {s['rss_end_mb']} MB",
                        f"slope {s['rss_slope_mb_per_min']:+.3f} MB/min{_half(s)}, max {s['rss_max_mb']} MB; "
                        f"measured after the warm-up; {load}"))
            out.append((f"  warm-up, first {w['ends_s'] / 60:.1f} min (excluded above)",
                        f"{s['rss_first_mb']} -> {s['rss_warm_up_end_mb']} MB",
                        f"RSS from 10 s in; it lasts until every bound is reached: {bounds}"))
        lat = s["latency"]
        for kind, label, how in (("burst", "burst storm", "threshold crossed at once"),
                                 ("steady", "steady storm", "4 reactions/s, the projection may alert early")):
            k = lat[kind]
            out.append((f"Alert latency, {label}", f"{_s(k['median_s'])} median",
                        f"from the X stand-in serving the poll after which the cascade could alert to the Slack "
                        f"stand-in accepting the post; max {_s(k['max_s'])}; judged {_s(k.get('judged_median_s'))}, "
                        f"delivered {_s(k.get('delivered_median_s'))} (medians); {k['alerted']}/{k['storms']} "
                        f"alerted, {k.get('measured', 0)} measured; {how}"))
            out.append(("  from the crossing reaction's posting", f"{_s(k.get('posted_median_s'))} median",
                        f"the threshold-th reaction posted -> Slack (adds the wait for the next poll; negative: "
                        f"alerted before it); {_s(k['from_root_median_s'])} after the root; X polled every 1 s, "
                        f"detection.every 30 s and detection.debounce 2 s (the defaults), "
                        f"{s['chatter_per_s']:g} chatter tweets/s"))
    if "detection" in r:
        d = r["detection"]
        b = d.get("baseline") or {}
        out += [
            ("Detection: storms caught", f"{d['caught']} / {d['storms']}",
             f"baseline (N={b.get('n')} reactions/hour, tuned in hindsight): {b.get('caught')} / {d['storms']}"),
            ("  false alerts per watch-list-week", str(d["false_per_watchlist_week"]),
             f"{d['false_cascade']} cascade, {d['false_spike']} spike; baseline {b.get('false_per_watchlist_week')}"),
            ("  earliness: reactions at alert / threshold", str(d["median_earliness"]),
             f"median; baseline {b.get('median_earliness')}; {d['before_threshold']} caught before the threshold"),
            ("  outages alerted", f"{d['outages'] - d['outages_missed']} / {d['outages']}",
             f"delay median {d['outage_delay_median_min']} min, max {d['outage_delay_max_min']} min"),
        ]
    if "volume" in r:
        v = r["volume"]
        d, b = v["all"]["detector"], v["all"]["baseline"]
        worst, w = max(((k, f["detector"]["false_per_week"]) for k, f in v["families"].items()), key=lambda kw: kw[1])
        out += [
            ("Volume spikes: incidents alerted", f"{d['alerted']} / {d['incidents']}",
             f"{len(v['families'])} families of overdispersed volume, seeds {v['seeds']}; baseline (an hour above "
             f"mean + 4 SD of 14 days): {b['alerted']} / {b['incidents']}"),
            ("  false spike alerts per watch-list-week", str(d["false_per_week"]),
             f"baseline {b['false_per_week']}; the most in one family: {w} ({worst})"),
            ("  delay, median / max (min)", f"{d['delay_median_min']} / {d['delay_max_min']}",
             f"baseline {b['delay_median_min']} / {b['delay_max_min']}"),
        ]
    if "zoo" in r:
        from bench.zoo import both_caught

        z, tp = r["zoo"]["detection"], r["zoo"].get("throughput") or {}
        for fam, f in z["families"].items():
            b = f["baseline"] or {}
            b_late = b["caught"] - b["before_threshold"] if b else "-"
            speed = ""
            if fam in tp:
                t = tp[fam]
                speed = (f"; replay {_n(t['replay']['rate'])}/s, VADER alone {_n(t['vader'])}/s: "
                         f"ratio {t['ratio']:.2f} ({_n(t['mentions'])} mentions)")
            held = " (held out)" if fam in (z.get("held_out") or ()) else ""
            out.append((f"Zoo, {fam}{held}: storms caught (late)", f"{f['caught']} / {f['storms']} ({f['late']})",
                        f"baseline (K={b.get('n')}) {b.get('caught')} / {f['storms']} ({b_late}); false/wl-week "
                        f"{f['false_per_watchlist_week']} (most {f['max_false_in_one_watchlist_week']}), baseline "
                        f"{b.get('false_per_watchlist_week')}; share at first alert {f['median_earliness']}, baseline "
                        f"{b.get('median_earliness')} (on the storms both caught: {both_caught(f)}); outages "
                        f"{f['outages'] - f['outages_missed']}/{f['outages']}"
                        + speed))
            for level, sv in (f.get("sensitivity") or {}).items():
                sb = sv.get("baseline") or {}
                out.append((f"  {fam}, alert.sensitivity {level} (p_storm >= {sv['p_alert']})",
                            f"{sv['caught']} / {sv['storms']}, {sv['false_per_watchlist_week']} false",
                            f"cascade false alerts per wl-week (most {sv['max_false_in_one_watchlist_week']}); share "
                            f"at first alert {sv['median_share']}, baseline with as many false alerts "
                            f"{sb.get('median_share')} (K={sb.get('n')}, {sb.get('caught')} caught)"))
        pooled = r["zoo"]["detection"].get("calibration")
        if pooled:
            out.append(("Calibration: of the complaints given p_storm in ...", "... this share became storms",
                        _buckets(pooled) + " (every family of the zoo pooled)"))
        for fam in z.get("held_out") or ():
            out.append((f"  the same for {fam} (held out)", "", _buckets(z["families"][fam].get("calibration") or [])))
    if "postgres" in r:
        pg = r["postgres"]
        if "skipped" in pg:
            out.append(("PostgreSQL figures", "skipped", pg["skipped"]))
        else:
            rs, rp = pg["replay"]["sqlite"], pg["replay"]["postgresql"]
            out.append(("Replay throughput on PostgreSQL (--workers 0)", f"{_n(rp['rate'])} mentions/s",
                        f"SQLite {_n(rs['rate'])}/s on the same {_n(rp['mentions'])} mentions: ratio "
                        f"{rp['rate'] / rs['rate']:.2f}; a private server on 127.0.0.1, fsync off"))
            for name, c in zip(("first", "all 304"), range(2), strict=True):
                ps, pp = pg["poll"]["sqlite"]["cycles"][c], pg["poll"]["postgresql"]["cycles"][c]
                out.append((f"  poll cycle on PostgreSQL, {pg['poll']['postgresql']['feeds']:,} feeds, {name}",
                            f"{pp['wall']:.2f} s", f"SQLite {ps['wall']:.2f} s; {pp['mentions']} mentions stored"))
            f = pg["failover"]
            out.append(("Failover: kill -9 of the lease holder -> first poll by another",
                        f"{f['median_s']:.1f} s median",
                        f"max {f['max_s']:.1f} s over {len(f['seconds'])} kills; two monitor run instances, "
                        f"cluster.lease_timeout {pg['lease_timeout_s']:g} s (default 30 s: about 30-40 s)"))
    if "cascades" in r:
        c = r["cascades"]
        out.append(("Real retweet cascades, threshold 2,000", f"{c['alerted']} / {c['cascades']} alerted",
                    f"median share of the final size at the alert {c['median_share']} (target <= 0.20), "
                    f"{c['median_minutes']} min after the root; projection error at the alert {c['median_error']}"))
    return out


def table(r: dict[str, Any]) -> str:
    rs = [("figure", "measured", "side by side / context"), *rows(r)]
    w0, w1 = (max(len(x[i]) for x in rs) for i in (0, 1))
    lines = [f"{a.ljust(w0)} | {b.ljust(w1)} | {c}" for a, b, c in rs]
    lines.insert(1, f"{'-' * w0}-+-{'-' * w1}-+-{'-' * 40}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes: a fast check, not the figures")
    ap.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    ap.add_argument("--mentions", type=int, help="mentions to replay (default 1,000,000; --quick 50,000)")
    ap.add_argument("--soak", type=float, help="soak seconds measured in the steady state, after a warm-up that "
                    "fills the daemon's bounded caches (default 180); --quick: 40 in all, warm-up only")
    ap.add_argument("--weeks", type=int, help="simulated weeks for detection quality (default 4; --quick 1)")
    ap.add_argument("--zoo-weeks", type=int, help="report-seed weeks per family of the zoo (default 6; --quick 1)")
    ap.add_argument("--zoo-mentions", type=int,
                    help="mentions replayed per family of the zoo (default 250,000; --quick 20,000)")
    args = ap.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = only - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    mentions = args.mentions or (50_000 if args.quick else 1_000_000)
    soak_s = args.soak or (40.0 if args.quick else 180.0)
    weeks = args.weeks or (1 if args.quick else 4)
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    r: dict[str, Any] = {"quick": args.quick, "python": platform.python_version(), "machine": platform.machine()}
    if "classifier" in only:
        from bench.classifier import speed as classifier_speed
        from bench.classifier import text_sets

        log("complaint classifier speed (bench/classifier.py) ...")
        r["classifier"] = {name: classifier_speed(texts, repeat=2 if args.quick else 5)
                           for name, texts in text_sets().items()}
    if "throughput" in only or "profile" in only:
        from bench.throughput import simulated_file, throughput

        if "throughput" in only:
            r["throughput"] = throughput(OUT, mentions)
        if "profile" in only:
            from bench.profile import profile_replay

            corpus = simulated_file(OUT, max(10_000, mentions // 10))
            log(f"profiling an in-process replay of a simulated week, {corpus.mentions} mentions ...")
            r["profile"] = profile_replay(corpus.path, corpus.config, OUT)
    if "poll" in only:
        from bench.polling import poll_cycles

        r["poll"] = poll_cycles(1000, 50)
    if "soak" in only:
        from bench.soak import soak

        r["soak"] = soak(soak_s, storm_every=20.0, warm_up=not args.quick, out=OUT)
    if "detection" in only:
        from bench.detection import detection_figures

        log(f"detection quality over {weeks} simulated week(s) (bench/detection.py) ...")
        r["detection"] = detection_figures(range(1, weeks + 1))
    if "volume" in only:
        from bench.volume import FAMILIES, REPORT_SEEDS, run

        log("volume spikes on overdispersed volume (bench/volume.py) ...")
        r["volume"] = run(list(FAMILIES), REPORT_SEEDS[:1] if args.quick else REPORT_SEEDS, 1 if args.quick else 4)
    if "zoo" in only:
        from bench.zoo import zoo_figures, zoo_throughput
        from devkit.zoo import FAMILIES as ZOO
        from devkit.zoo import HELD_OUT

        zoo_weeks = args.zoo_weeks or (1 if args.quick else 6)
        log(f"detection per family of the zoo, {zoo_weeks} report-seed week(s) each (bench/zoo.py) ...")
        families = [*ZOO, *HELD_OUT]  # the zoo, then the generators held out of every choice
        r["zoo"] = {"detection": zoo_figures(families, weeks=zoo_weeks)}
        zoo_mentions = args.zoo_mentions or (20_000 if args.quick else 250_000)
        log(f"replay throughput per family of the zoo, about {zoo_mentions} mentions each ...")
        r["zoo"]["throughput"] = zoo_throughput(OUT, zoo_mentions, families)
    if "cascades" in only:
        from bench.cascades import figures as cascade_figures

        log("30 real retweet cascades through the pipeline (bench/cascades.py) ...")
        r["cascades"] = cascade_figures()
    if "postgres" in only:
        from bench.postgres import postgres_figures

        log("PostgreSQL next to SQLite, and a failover of two instances (bench/postgres.py) ...")
        r["postgres"] = postgres_figures(OUT, 20_000 if args.quick else min(mentions, 200_000),
                                         200 if args.quick else 1000)
    r["seconds"] = time.monotonic() - started
    (OUT / "bench.json").write_text(json.dumps(r, indent=1, default=str))
    print(table(r))
    if "zoo" in r:
        from bench.zoo import table as zoo_table

        print()
        print(zoo_table(r["zoo"]["detection"], r["zoo"]["throughput"]))
    print(f"({'quick check: not the figures; ' if args.quick else ''}{r['seconds']:.0f}s on "
          f"{platform.python_implementation()} {r['python']}; details in {OUT / 'bench.json'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
