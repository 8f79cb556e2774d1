"""Bad or hostile configuration gets one line naming file:line and exit 2: never a traceback, never a
wedged daemon, never a silent fallback. (Issue 15: durations, anchors, sizes, X's query, symlinks,
check-config's blind spots, and the commands' tracebacks.)"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli import main
from monitor.config.fields import MAX_URL_LENGTH
from monitor.config.settings import MAX_TERM_LENGTH, MAX_TERMS, MAX_WATCHLISTS, load_config
from monitor.config.watchlist import (
    MAX_COMMENT_FEEDS,
    MAX_FEEDS,
    MAX_HASHTAGS,
    MAX_INSTANCES,
    MAX_PLAYBOOK_STEPS,
    MAX_VIP_AUTHORS,
)
from monitor.config.yamlfile import MAX_FILE_BYTES, MAX_PROBLEMS
from monitor.errors import ConfigError
from monitor.store.database import SCHEMA_VERSION, Store
from tests.conftest import ACME, write_config

ANCHOR_BOMB = """name: bomb
terms: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """Exit code, stderr lines and stdout of ``monitor ARGV``, in this process."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, err.splitlines(), out


def check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, list[str]]:
    code, err, _ = run(capsys, "check-config", "--config", str(path))
    assert not any("Traceback" in line for line in err)
    return code, err


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    return exc.value.problems


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# -- durations ---------------------------------------------------------------------------------------
def test_a_duration_without_a_unit_is_an_error_naming_file_line_and_the_unit_to_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [ACME], retention=30)
    code, err = check(capsys, path)
    assert code == 2
    assert f"{path}:{line_of(path, 'retention')}: retention: 30 what? write 30d" in err


@pytest.mark.parametrize("settings", [{"retention": "0d"}, {"retention": 0}, {"detection": {"every": "0s"}},
                                      {"x": {"poll_every": -5}}, {"retention": "-3d"}])
def test_zero_or_negative_intervals_are_errors(tmp_path: Path, settings: dict[str, Any]) -> None:
    found = problems(write_config(tmp_path, [ACME], **settings))
    assert len(found) == 1 and ("more than 0" in found[0] or "never negative" in found[0])


def test_zero_stays_allowed_where_it_means_off(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, [ACME], source_quiet_after=0, detection={"debounce": "0s"}))
    assert config.settings.source_quiet_after.total_seconds() == 0



@pytest.mark.parametrize("written", ["99999999999w", "200000w", "3651d", "1" + "0" * 400 + "s"])
def test_a_duration_longer_than_ten_years_is_one_line_naming_the_longest_allowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str) -> None:
    path = write_config(tmp_path, [ACME], retention=written)
    code, err = check(capsys, path)
    assert code == 2 and len(err) == 2
    assert err[0].startswith(f"{path}:{line_of(path, 'retention')}: retention: ") and "at most 10 years" in err[0]


def test_a_detection_window_past_the_calendar_fails_check_config_rather_than_the_running_daemon(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [ACME], detection={"window": "200000w"})
    code, err = check(capsys, path)
    assert code == 2 and any(": detection.window: " in line and "at most 10 years" in line for line in err)


def test_ten_years_is_still_a_duration(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, [ACME], retention="3650d"))
    assert config.settings.retention.days == 3650


@pytest.mark.parametrize("length", ["999999999w", "99999999999w"])
def test_silence_for_a_duration_past_the_calendar_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], length: str) -> None:
    path = write_config(tmp_path, [ACME])
    code, err, _ = run(capsys, "silence", "--config", str(path), "--watchlist", "acme", "--for", length)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("silence: --for: ") and "at most 10 years" in err[0]

# -- anchors, sizes, reload off the loop -----------------------------------------------------------------
def test_an_anchor_bomb_in_a_watch_list_is_refused_in_one_line_before_it_is_expanded(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [ACME])
    (tmp_path / "watchlists" / "bomb.yaml").write_text(ANCHOR_BOMB)
    code, err = check(capsys, path)
    bomb = tmp_path / "watchlists" / "bomb.yaml"
    assert code == 2
    assert [line for line in err if str(bomb) in line] == [
        f"{bomb}:2: not valid YAML: anchors and aliases (&name, *name) are not allowed in monitor's files; "
        "write the value out"]


def test_an_alias_in_monitor_yaml_is_refused_too(tmp_path: Path) -> None:
    path = write_config(tmp_path, [ACME])
    path.write_text(path.read_text() + "x: &x {enabled: false}\nblogs: *x\n")
    assert [p for p in problems(path) if "anchors and aliases" in p] != []


def test_a_watch_list_larger_than_the_cap_is_refused_unread(tmp_path: Path) -> None:
    path = write_config(tmp_path, [ACME])
    big = tmp_path / "watchlists" / "big.yaml"
    big.write_text("name: big\nterms:\n" + "  - acme\n" * (MAX_FILE_BYTES // 9 + 10))
    [found] = problems(path)
    assert found.startswith(f"{big}:1: ") and f"{MAX_FILE_BYTES:,}" in found


def test_a_reload_reads_the_files_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor import daemon as daemon_module

    path = write_config(tmp_path, [ACME])
    d = daemon_module.Daemon(load_config(path))
    released = threading.Event()
    loaded_while_loop_ran: list[bool] = []
    real = daemon_module.load_checked

    def slow_load(p: Path | None) -> Any:
        # Waits for a task of the event loop: it can only run if this load is not on the loop.
        loaded_while_loop_ran.append(released.wait(10))
        return real(p)

    monkeypatch.setattr(daemon_module, "load_checked", slow_load)

    async def scenario() -> bool:
        async def release() -> None:
            await asyncio.sleep(0.01)
            released.set()

        task = asyncio.create_task(release())
        ok = await d.reload("test")
        await task
        return ok

    try:
        assert asyncio.run(scenario()) is True
    finally:
        d.store.close()
    assert loaded_while_loop_ran == [True]


# -- terms and what each source will send ----------------------------------------------------------------
def test_a_watch_list_whose_x_query_passes_512_characters_fails_check_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    terms = [f"product{i:03d}" for i in range(60)]  # about 780 characters OR-ed
    path = write_config(tmp_path, [{"name": "acme", "terms": terms}])
    code, err = check(capsys, path)
    wl = tmp_path / "watchlists" / "acme.yaml"
    assert code == 2
    assert any(line.startswith(f"{wl}:{line_of(wl, 'terms')}: terms: the X search query") and "X allows 512" in line
               for line in err)


def test_the_daemon_refuses_to_start_on_a_query_x_would_refuse(tmp_path: Path) -> None:
    from monitor.daemon import load_checked

    path = write_config(tmp_path, [{"name": "acme", "terms": ["acme"], "x_query": "acme " * 120}])
    with pytest.raises(ConfigError) as exc:
        load_checked(path)
    assert "x_query: the X search query made of it is 599 characters" in exc.value.problems[0]


def test_terms_per_watch_list_and_term_length_are_capped(tmp_path: Path) -> None:
    path = write_config(tmp_path, [{"name": "many", "terms": [f"t{i}" for i in range(MAX_TERMS + 1)]},
                                   {"name": "long", "terms": ["a" * (MAX_TERM_LENGTH + 1)]}])
    found = problems(path)
    assert any("many.yaml" in p and "terms" in p and f"{MAX_TERMS}" in p for p in found)
    assert any("long.yaml" in p and f"at most {MAX_TERM_LENGTH} characters" in p for p in found)



def feeds(n: int) -> list[str]:
    return [f"https://blog{i}.example.com/feed" for i in range(n)]


@pytest.mark.parametrize("key, value, field, most", [
    ("feeds", feeds(MAX_FEEDS + 1), "feeds", MAX_FEEDS),
    ("comment_feeds", feeds(MAX_COMMENT_FEEDS + 1), "comment_feeds", MAX_COMMENT_FEEDS),
    ("vip_authors", [f"@vip{i}" for i in range(MAX_VIP_AUTHORS + 1)], "vip_authors", MAX_VIP_AUTHORS),
    ("mastodon", {"instances": ["mastodon.social"], "hashtags": [f"tag{i}" for i in range(MAX_HASHTAGS + 1)]},
     "mastodon.hashtags", MAX_HASHTAGS),
    ("mastodon", {"instances": [f"m{i}.example" for i in range(MAX_INSTANCES + 1)], "hashtags": ["acme"]},
     "mastodon.instances", MAX_INSTANCES),
    ("playbook", [{"who": "PR", "do": "answer"} for _ in range(MAX_PLAYBOOK_STEPS + 1)], "playbook",
     MAX_PLAYBOOK_STEPS),
])
def test_every_list_of_a_watch_list_is_capped_in_one_line_naming_file_line_and_field(
        tmp_path: Path, key: str, value: Any, field: str, most: int) -> None:
    path = write_config(tmp_path, [{"name": "big", "terms": ["acme"], key: value}])
    wl = tmp_path / "watchlists" / "big.yaml"
    [found] = problems(path)
    assert found.startswith(f"{wl}:{line_of(wl, field.split('.')[-1] + ':')}: {field}: ")
    assert f"at most {most} items" in found


def test_a_feed_url_is_capped_in_length(tmp_path: Path) -> None:
    path = write_config(tmp_path, [{"name": "long", "terms": ["acme"],
                                    "feeds": ["https://example.com/" + "a" * MAX_URL_LENGTH]}])
    [found] = problems(path)
    assert ": feeds[0]: " in found and f"at most {MAX_URL_LENGTH:,} characters" in found


def test_the_number_of_watch_list_files_is_capped_without_reading_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.config.settings as settings

    path = write_config(tmp_path, [{"name": f"wl{i}", "terms": ["acme"]} for i in range(MAX_WATCHLISTS + 1)])
    read: list[Path] = []
    real = settings.read_yaml
    monkeypatch.setattr(settings, "read_yaml", lambda file, found: read.append(file) or real(file, found))
    [found] = problems(path)
    assert found == (f"{path}:{line_of(path, 'watchlists')}: watchlists: {tmp_path / 'watchlists'} holds "
                     f"{MAX_WATCHLISTS + 1:,} watch-list files, more than the {MAX_WATCHLISTS:,} monitor reads; "
                     "merge some (a watch-list takes up to 1,000 terms)")
    assert read == [path]

# -- symlinks and what is not a YAML file --------------------------------------------------------------
SECRET = "\n".join(f"user{i}: $6$rounds=5000$s3cr3tSaltAndHashThatMustNeverBeEchoed{i}" for i in range(20))


def test_a_watch_list_linked_to_a_file_that_is_not_yaml_is_refused_without_echoing_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [ACME])
    secret = tmp_path / "shadow"
    secret.write_text(SECRET)
    (tmp_path / "watchlists" / "evil.yaml").symlink_to(secret)
    code, err = check(capsys, path)
    assert code == 2
    assert not any("s3cr3t" in line or "user1" in line for line in err)
    assert any("evil.yaml:1: links to a file that is not .yaml" in line for line in err)


def test_a_watch_list_linked_to_a_device_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, [ACME])
    (tmp_path / "watchlists" / "zero.yaml").symlink_to("/dev/zero")
    assert [p for p in problems(path) if "zero.yaml" in p] == [
        f"{tmp_path / 'watchlists' / 'zero.yaml'}:1: not a regular file; point to a YAML file"]


@pytest.mark.parametrize("content, why", [(b"name: x\nterms: [a]\n\x00\x01\x02", "not a text file"),
                                          (b"name: x\nterms: [\xff\xfe]\n", "not UTF-8 text")])
def test_binary_or_non_utf8_content_is_refused_in_one_line(tmp_path: Path, content: bytes, why: str) -> None:
    path = write_config(tmp_path, [ACME])
    (tmp_path / "watchlists" / "bin.yaml").write_bytes(content)
    [found] = problems(path)
    assert why in found and "bin.yaml" in found


def test_what_is_wrong_is_quoted_in_a_short_excerpt_only(tmp_path: Path) -> None:
    path = write_config(tmp_path, [ACME])
    long_key = "k" * 500
    (tmp_path / "watchlists" / "odd.yaml").write_text(
        yaml.safe_dump({"name": "odd", "terms": ["acme"], long_key: 1,
                        "alert": {"spread_threshold": "x" * 500}}))
    found = problems(path)
    assert found and all(len(p) < len(str(tmp_path)) + 300 for p in found)
    assert not any("k" * 50 in p or "x" * 50 in p for p in found)


def test_many_problems_in_one_file_are_cut_short(tmp_path: Path) -> None:
    path = write_config(tmp_path, [ACME])
    (tmp_path / "watchlists" / "noisy.yaml").write_text(
        yaml.safe_dump({"name": "noisy", "terms": ["acme"], **{f"key{i}": i for i in range(50)}}))
    found = [p for p in problems(path) if "noisy.yaml" in p]
    assert len(found) == 11 and "40 more problem(s)" in found[-1]



# Looks like /etc/shadow (never the real one): to YAML, each line is a key with no value.
SHADOW = "".join(f"user{i}:$y$j9T$s3cr3tSaltAndHash{i}:19700:0:99999:7:::\n" for i in range(24))


def test_check_config_of_a_settings_file_that_is_not_yaml_is_one_line_without_echoing_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text(SHADOW)
    code, err = check(capsys, shadow)
    assert code == 2
    assert err[0] == f"{shadow}:1: not a .yaml or .yml file; monitor reads only YAML files"
    assert len(err) == 2 and not any("s3cr3t" in line or "user1" in line for line in err)


def test_a_settings_file_linked_to_a_file_that_is_not_yaml_is_refused_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "shadow").write_text(SHADOW)
    (tmp_path / "monitor.yaml").symlink_to(tmp_path / "shadow")
    code, err = check(capsys, tmp_path / "monitor.yaml")
    assert code == 2 and len(err) == 2 and "links to a file that is not .yaml" in err[0]


def test_keys_with_no_value_are_cut_short_with_the_other_problems_of_their_file(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(SHADOW)
    (tmp_path / "watchlists").mkdir()
    found = problems(path)
    assert len(found) == MAX_PROBLEMS + 1  # 24 keys with no value, and 24 unknown keys
    assert found[-1] == f"{path}: {2 * 24 - MAX_PROBLEMS} more problem(s) not shown; fix these first"


def test_keys_written_twice_are_cut_short_too(tmp_path: Path) -> None:
    path = write_config(tmp_path, [])
    (tmp_path / "watchlists" / "twice.yaml").write_text("name: twice\nterms: [acme]\n" + "hn: true\n" * 30)
    found = [p for p in problems(path) if "twice.yaml" in p]
    assert len(found) == MAX_PROBLEMS + 1 and found[-1].endswith(": 19 more problem(s) not shown; fix these first")

# -- check-config's blind spots -------------------------------------------------------------------------
def test_check_config_reports_watch_list_problems_even_when_monitor_yaml_has_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [{"name": "acme", "terms": []}], retention="soon")
    code, err = check(capsys, path)
    assert code == 2
    assert any("monitor.yaml" in line and "retention" in line for line in err)
    assert any("acme.yaml" in line and "terms" in line for line in err)


def test_an_unquoted_channel_is_a_comment_and_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [])
    wl = tmp_path / "watchlists" / "acme.yaml"
    wl.write_text("name: acme\nterms: [acme]\nchannel: #pr\n")
    code, err = check(capsys, path)
    assert code == 2
    assert f'{wl}:3: channel: has no value (a # starts a comment in YAML: quote it, "#pr")' in err


def test_an_empty_watch_list_folder_fails_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [])
    code, err = check(capsys, path)
    assert code == 2 and any("no watch-list in" in line for line in err)


def test_a_database_path_that_cannot_be_written_fails_check_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("not a folder")
    path = write_config(tmp_path, [ACME], database=str(tmp_path / "afile" / "var" / "monitor.db"))
    code, err = check(capsys, path)
    assert code == 2
    assert any(line.startswith(f"{path}:1: database: ") and "afile" in line for line in err)


def test_a_database_folder_where_files_cannot_be_created_fails_check_config_saying_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_store_guard import read_only

    folder = tmp_path / "var"
    folder.mkdir()
    Store(folder / "monitor.db").close()
    path = write_config(tmp_path, [ACME], database=str(folder / "monitor.db"))
    with read_only(folder):  # the file may be written, but SQLite's -wal and -shm cannot be created beside it
        code, err = check(capsys, path)
    assert code == 2
    assert err[0].startswith(f"{path}:{line_of(path, 'database')}: database: cannot create files in {folder} (")
    assert err[0].endswith("SQLite creates its -wal and -shm files beside the database; make the folder writable")


def test_check_config_passes_a_good_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = check(capsys, write_config(tmp_path, [ACME]))
    assert (code, err) == (0, [])


# -- commands: one line and exit 2, never a traceback -----------------------------------------------------
def test_export_since_garbage_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [ACME])
    Store(load_config(path).database_path).close()
    code, err, _ = run(capsys, "export", "--config", str(path), "--since", "garbage")
    assert code == 2 and len(err) == 1 and err[0].startswith("monitor: --since: ")


def test_score_of_a_record_whose_text_is_not_a_string_is_scored_as_text_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    path = write_config(tmp_path, [ACME])
    record = ('{"id": "x:1", "source": "x", "kind": "post", "author": {"id": "1", "handle": "a"}, '
              '"created_at": "2026-11-02T09:00:00Z", "text": ["a"]}')
    monkeypatch.setattr("sys.stdin", io.StringIO(record + "\n"))
    code, err, out = run(capsys, "score", "--config", str(path))
    assert code == 0 and err == []
    assert '"warning": "not a mention record (text must be a string); scored as text"' in out


@pytest.mark.parametrize("command", [["run", "--once"], ["silence", "--watchlist", "acme", "--for", "1h"]])
def test_a_database_folder_that_cannot_be_created_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    (tmp_path / "afile").write_text("not a folder")
    path = write_config(tmp_path, [ACME], database=str(tmp_path / "afile" / "monitor.db"))
    code, err, _ = run(capsys, command[0], "--config", str(path), *command[1:])
    assert code == 2
    assert len(err) == 1 and "cannot create the database folder" in err[0]


def test_status_on_a_corrupt_database_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [ACME])
    load_config(path).database_path.write_bytes(os.urandom(8192))
    code, err, _ = run(capsys, "status", "--config", str(path))
    assert code == 2 and len(err) == 1 and "cannot read database" in err[0]


def test_status_on_a_database_of_a_newer_monitor_says_to_upgrade_monitor(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, [ACME])
    db = load_config(path).database_path
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    code, err, _ = run(capsys, "status", "--config", str(path))
    assert code == 2 and len(err) == 1
    assert "written by a newer monitor" in err[0] and "upgrade monitor" in err[0] and "migrate" not in err[0]


def test_renaming_a_watch_list_on_the_fast_cadence_reloads_without_a_job_lookup_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from monitor.daemon import Daemon

    monkeypatch.setenv("X_BEARER_TOKEN", "x-hardening-token-0123456789")
    path = write_config(tmp_path, [ACME], x={"api_url": "http://127.0.0.1:9"})
    d = Daemon(load_config(path))

    async def scenario() -> list[str]:
        d.scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        d._schedule_sources()
        d.scheduler.start(paused=True)
        d.hot = {"poll:x:acme"}  # a complaint of acme is growing: its X query is polled fast
        wl = tmp_path / "watchlists"
        (wl / "acme.yaml").rename(wl / "brand.yaml")
        (wl / "brand.yaml").write_text((wl / "brand.yaml").read_text().replace("name: acme", "name: brand"))
        assert await d.reload("rename")
        await d.detect()  # adapts the cadence: the job of x:acme is gone
        jobs = sorted(job.id for job in d.scheduler.get_jobs())
        d.scheduler.shutdown(wait=False)
        return jobs

    try:
        jobs = asyncio.run(scenario())
    finally:
        d.store.close()
    assert "poll:x:brand" in jobs and "poll:x:acme" not in jobs
    assert not [r for r in caplog.records if r.exc_info]


def test_an_anchor_bomb_dropped_into_the_watch_list_folder_is_refused_by_the_running_daemon_in_one_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from monitor.daemon import Daemon

    d = Daemon(load_config(write_config(tmp_path, [ACME])))
    (tmp_path / "watchlists" / "bomb.yaml").write_text(ANCHOR_BOMB)
    try:
        with caplog.at_level("ERROR", logger="monitor"):
            assert asyncio.run(d.reload("file change")) is False
    finally:
        d.store.close()
    [line] = [r.getMessage() for r in caplog.records]
    assert "bomb.yaml:2: not valid YAML: anchors and aliases" in line and "last good config" in line
    assert sorted(d.config.watchlists) == ["acme"]


def test_running_out_of_memory_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(args: object) -> int:
        raise MemoryError

    monkeypatch.setattr("monitor.cli.cmd_status", exhausted)
    code, err, _ = run(capsys, "status", "--config", str(write_config(tmp_path, [ACME])))
    assert code == 2 and len(err) == 1 and err[0].startswith("monitor status: out of memory")

