"""A replay fed hostile or broken input: each bad line is skipped with its number and a reason, the
rest is replayed, and a bad input path is one line and exit 2 (issue 15, item 9)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.detect.deadlines import Deadlines
from monitor.replay import MAX_LINE, ReplaySummary, read_records
from tests.conftest import write_config

REPO = Path(__file__).resolve().parents[1]


def record(mid: str, when: str = "2026-03-01T10:00:00Z", **extra: object) -> dict:
    return {"id": mid, "source": "x", "kind": "post", "author": {"id": "1", "handle": "a", **extra},
            "text": "acme charged me twice", "created_at": when, "observed_at": when}


def line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


HOSTILE = {
    "not UTF-8": b'{"id": "x:9", "text": "\xff\xfe"}\n',
    "year 1": line(record("x:10", "0001-01-01T00:00:00Z")),
    "year 9999": line(record("x:11", "9999-12-31T23:59:59Z")),
    "5,000-digit integer": b'{"id":"x:12","source":"x","kind":"post","author":{"id":"1","handle":"a","followers":'
                           + b"9" * 5000 + b'},"text":"t","created_at":"2026-03-01T10:00:00Z"}\n',
    "100,000-deep JSON": b"[" * 100_000 + b"]" * 100_000 + b"\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_line_is_skipped_with_its_number_and_a_reason_and_the_others_are_read(name: str) -> None:
    data = line(record("x:1")) + HOSTILE[name] + line(record("x:2"))
    warnings: list[str] = []
    summary = ReplaySummary()
    ids = [m.id for m in read_records(io.BytesIO(data), summary, warnings.append)]
    assert ids == ["x:1", "x:2"]
    assert summary.bad_lines == 1 and len(warnings) == 1
    assert warnings[0].startswith("line 2: skipped: ") and len(warnings[0]) > len("line 2: skipped: ") + 5


def test_every_bad_line_is_reported_not_only_the_first_twenty() -> None:
    summary = ReplaySummary()
    warnings: list[str] = []
    assert list(read_records(io.BytesIO(b"nope\n" * 30), summary, warnings.append)) == []
    assert summary.bad_lines == 30 and len(warnings) == 30 and warnings[-1].startswith("line 30: ")



class BoundedReads(io.BytesIO):
    """A stream that fails a read of a whole line whatever its length: what holds a 100 MB line (or
    /dev/zero, which has no newline) in memory."""

    def readline(self, size: int | None = -1) -> bytes:
        assert size is not None and 0 < size <= MAX_LINE + 1, f"readline({size}) reads a line of any length"
        return super().readline(size)

    def __iter__(self) -> typing.Iterator[bytes]:
        raise AssertionError("iterating reads a line of any length")


@pytest.mark.parametrize("end", [b"\n", b""], ids=["ended", "no newline at all"])
def test_a_line_longer_than_the_cap_is_skipped_unread_with_its_number(end: bytes) -> None:
    over_long = b"\0" * (2 * MAX_LINE + 17) + end
    data = line(record("x:1")) + over_long + (line(record("x:2")) if end else b"")
    warnings: list[str] = []
    summary = ReplaySummary()
    ids = [m.id for m in read_records(BoundedReads(data), summary, warnings.append)]
    assert ids == (["x:1", "x:2"] if end else ["x:1"])
    assert summary.bad_lines == 1
    assert warnings == [f"line 2: skipped: longer than {MAX_LINE:,} bytes"]


def test_a_line_just_at_the_cap_is_read() -> None:
    text = line(record("x:1"))
    padded = text[:-2] + b" " * (MAX_LINE - len(text)) + b"}\n"
    assert len(padded) == MAX_LINE
    assert [m.id for m in read_records(BoundedReads(padded), ReplaySummary(), print)] == ["x:1"]

def test_a_deadline_in_year_1_is_found_without_walking_every_minute_since() -> None:
    d: Deadlines[str] = Deadlines()
    d.add(datetime(1, 1, 1, tzinfo=UTC), "ancient")
    d.add(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), "recent")
    d.add(datetime(2026, 3, 1, 11, 0, tzinfo=UTC), "later")
    assert sorted(d.due(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))) == ["ancient", "recent"]
    assert d.due(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) == ["later"]


def run_replay(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "monitor", "replay", *args], input=stdin, capture_output=True,
                          timeout=120, cwd=REPO)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path, [{"name": "acme", "terms": ["acme"]}])


def test_replay_of_a_file_with_every_kind_of_bad_line_replays_the_good_ones(cfg: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(line(record("x:1")) + b"".join(HOSTILE[k] for k in sorted(HOSTILE)) + line(record("x:2")))
    done = run_replay(str(events), "--config", str(cfg), "--workers", "0")
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert "Traceback" not in err
    assert "replayed 2 mentions" in err and f"{len(HOSTILE)} bad lines" in err
    assert [n for n in range(2, 2 + len(HOSTILE)) if f"line {n}: skipped" not in err] == []


@pytest.mark.parametrize("what", ["directory", "missing"])
def test_a_bad_input_path_is_one_line_and_exit_2(what: str, cfg: Path, tmp_path: Path) -> None:
    path = tmp_path if what == "directory" else tmp_path / "nope.jsonl"
    done = run_replay(str(path), "--config", str(cfg))
    err = done.stderr.decode().strip()
    assert done.returncode == 2
    assert len(err.splitlines()) == 1 and str(path) in err and "Traceback" not in err


def test_replay_of_a_device_is_one_line_and_exit_2_not_an_endless_read(cfg: Path) -> None:
    done = run_replay("/dev/zero", "--config", str(cfg), "--workers", "0")
    err = done.stderr.decode().strip()
    assert done.returncode == 2
    assert err == "monitor replay: /dev/zero is a device, not a file of records"
