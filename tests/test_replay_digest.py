"""The layout may change; behaviour may not: a replay of a small simulated week of every family
decides and stores exactly what it did before the package was rearranged (bench/digest.py)."""

from __future__ import annotations

import json

import pytest

from bench.digest import FAMILIES, GOLDEN, family_digest


@pytest.mark.parametrize("family", FAMILIES)
def test_a_replay_alerts_and_stores_what_it_did_before(family: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    golden = json.loads(GOLDEN.read_text())[family]
    assert family_digest(family, tmp_path) == golden
