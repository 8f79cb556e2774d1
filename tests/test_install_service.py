"""`make install-service` and `make uninstall-service`, run into a temporary root (DESTDIR), and what
`make run` tells a newcomer (issue 15, item 14)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def make(target: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target, f"DESTDIR={root}", "SYSTEMCTL=true", f"PYTHON={sys.executable}",
         "PIP_FLAGS=--no-deps --no-index", "WHEEL_FLAGS=--no-build-isolation --no-index"],
        cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_install_service_installs_a_fresh_wheel_keeps_examples_out_of_force_and_uninstall_removes_it(
        tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = tmp_path / "root"
    stale = [root / "opt/monitor/monitor/old_module.py", root / "opt/monitor/docs/gone.md",
             root / "opt/monitor/.venv/lib/leftover.py"]
    for f in stale:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("from the last version\n")
    done = make("install-service", root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [f for f in stale if f.exists()] == []  # an upgrade leaves nothing of the last version
    assert (root / "opt/monitor/.venv/bin/monitor").exists()
    assert (root / "opt/monitor/docs/operations.md").exists()
    site = list((root / "opt/monitor/.venv/lib").glob("python*/site-packages/monitor/daemon.py"))
    assert site, "monitor is installed from the wheel into the new virtualenv"
    assert not list((root / "opt/monitor/.venv/lib").glob("python*/site-packages/devkit"))
    assert list((root / "etc/monitor/watchlists").iterdir()) == []  # no example searches X for "acme"
    assert (root / "etc/monitor/examples/acme.yaml").exists()
    assert (root / "etc/systemd/system/monitor.service").exists()
    assert "examples" in done.stdout and "/opt/monitor/.venv/bin/monitor check-config" in done.stdout

    (root / "etc/monitor/watchlists/mine.yaml").write_text("name: mine\nterms: [mine]\n")
    again = make("install-service", root)
    assert again.returncode == 0, again.stderr
    assert (root / "etc/monitor/watchlists/mine.yaml").exists()  # the operator's own are never touched

    gone = make("uninstall-service", root)
    assert gone.returncode == 0, gone.stderr
    assert not (root / "opt/monitor").exists() and not (root / "etc/systemd/system/monitor.service").exists()
    assert (root / "etc/monitor/watchlists/mine.yaml").exists() and "Kept /etc/monitor" in gone.stdout


def test_make_run_says_where_the_monitor_command_is() -> None:
    dry = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert ".venv/bin/monitor" in dry.stdout and "source .venv/bin/activate" in dry.stdout


def test_the_readme_says_monitor_is_not_on_the_path() -> None:
    readme = (REPO / "README.md").read_text()
    assert "source .venv/bin/activate" in readme and ".venv/bin/monitor" in readme
    assert "make uninstall-service" in readme
