"""The sd_notify protocol, spoken over a real temporary datagram socket."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from monitor.ops.systemd import Notifier

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield path, sock
    sock.close()


def received(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


def test_ready_reloading_and_stopping_reach_systemd(notify_socket) -> None:
    path, sock = notify_socket
    n = Notifier.from_env({"NOTIFY_SOCKET": str(path)})
    assert n.ready()
    assert received(sock)["READY"] == "1"
    assert n.reloading()
    msg = received(sock)
    assert msg["RELOADING"] == "1" and int(msg["MONOTONIC_USEC"]) > 0
    assert n.stopping()
    assert received(sock)["STOPPING"] == "1"


def test_the_watchdog_is_pinged_on_progress_but_not_flooded(notify_socket) -> None:
    path, sock = notify_socket
    n = Notifier.from_env({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "60000000",
                           "WATCHDOG_PID": str(os.getpid())})
    assert n.progress()
    assert received(sock) == {"WATCHDOG": "1"}
    assert not n.progress()  # again at once: throttled


def test_outside_systemd_every_call_is_a_quiet_no_op() -> None:
    n = Notifier.from_env({})
    assert not n.ready() and not n.progress() and not n.stopping()


def test_the_unit_uses_notify_not_notify_reload_and_is_hardened_and_bounded() -> None:
    unit = (REPO / "systemd" / "monitor.service").read_text()
    settings = [line.strip() for line in unit.splitlines() if not line.lstrip().startswith("#")]
    assert "Type=notify" in settings and "Type=notify-reload" not in settings
    for line in ("ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "StateDirectory=monitor",
                 "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "RestrictAddressFamilies=", "LoadCredential=", "DynamicUser=yes"):
        assert line in unit
    # Descriptors and memory, as the limits in docs/operations.md give them (issue 15, item 6).
    limits = (REPO / "docs" / "operations.md").read_text().split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]
    for line in ("LimitNOFILE=4096", "MemoryMax=1G"):
        assert line in settings and f"`{line}` in the unit" in limits


def _unit_settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (REPO / "systemd" / "monitor.service").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_runs_what_make_install_service_installs_and_reads_its_tokens_as_credentials() -> None:
    unit = _unit_settings()
    makefile = (REPO / "Makefile").read_text()
    target = makefile[makefile.index("install-service:"):].split("\n\n", 1)[0]
    # The recipe with its default install root (tests/test_install_service.py runs it into another).
    defaults = dict(re.findall(r"^(DESTDIR|PREFIX|ETC|UNITDIR) *\?= *(.*)$", makefile, re.M))
    assert defaults == {"DESTDIR": "", "PREFIX": "/opt/monitor", "ETC": "/etc/monitor",
                        "UNITDIR": "/etc/systemd/system"}
    for name, value in defaults.items():
        target = target.replace(f"$({name})", value)
    # install-service builds a new /opt/monitor/.venv and installs the package's wheel (its console script) there.
    assert "rm -rf /opt/monitor/.venv" in target and "$(PYTHON) -m venv /opt/monitor/.venv" in target
    assert "/opt/monitor/.venv/bin/python -m pip install --quiet $(PIP_FLAGS) $(WHEELS)/*.whl" in target
    assert unit["ExecStart"] == ["/opt/monitor/.venv/bin/monitor run --config /etc/monitor/monitor.yaml"]
    assert "install -m 0644 systemd/monitor.yaml /etc/monitor/monitor.yaml" in target
    assert "install -m 0644 systemd/monitor.service /etc/systemd/system/monitor.service" in target
    # Each credential the unit loads is a file install-service creates, named as monitor.yaml's *_env.
    creds = dict(v.split(":", 1) for v in unit["LoadCredential"])
    assert creds == {name: f"/etc/monitor/credentials/{name}" for name in creds}
    for path in creds.values():
        assert path in target
    import yaml

    settings = yaml.safe_load((REPO / "systemd" / "monitor.yaml").read_text())
    assert {settings["x"]["bearer_token_env"], settings["slack"]["token_env"]} <= set(creds)
    assert settings["database"].startswith("/var/lib/monitor/")  # StateDirectory=monitor
    assert unit["StateDirectory"] == ["monitor"] and unit["WorkingDirectory"] == ["/var/lib/monitor"]


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd; .ci/run tries that)")
    # verify checks that ExecStart exists: point it at this checkout's installed command.
    exe = Path(sys.executable).with_name("monitor")
    unit = (REPO / "systemd" / "monitor.service").read_text()
    unit = unit.replace("/opt/monitor/.venv/bin/monitor", str(exe))
    (tmp_path / "monitor.service").write_text(unit)
    done = subprocess.run([analyze, "verify", str(tmp_path / "monitor.service")], capture_output=True, text=True)
    problems = [line for line in done.stderr.splitlines() if "monitor.service" in line]
    assert done.returncode == 0 and not problems, done.stderr
