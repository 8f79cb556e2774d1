"""The packages import in one direction only (docs/architecture.md): commands, then the engine, then
the stages, which never import each other, then the store, then records and config. import-linter
checks it, with the contract in pyproject.toml; ``make lint`` runs the same check."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_no_import_breaks_the_direction_of_the_pipeline() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "2 kept, 0 broken" in done.stdout


def test_every_package_and_top_module_has_its_place_in_the_contract() -> None:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    contract = next(c for c in contracts if c["type"] == "layers")
    placed = {m.strip() for layer in contract["layers"] for m in layer.replace(":", "|").split("|")}
    package = REPO / "monitor"
    found = {f"monitor.{p.name}" for p in package.iterdir() if (p / "__init__.py").exists()}
    found |= {f"monitor.{p.stem}" for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert found == placed
