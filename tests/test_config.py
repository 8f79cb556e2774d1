"""Config: strict, located errors (file:line: field), durations, secrets only by name."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from monitor.cli import main
from monitor.config.settings import Secret, Settings, Watchlist, load_config, parse_duration, resolve_secret
from monitor.errors import ConfigError

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[1]


def test_the_shipped_example_config_is_valid() -> None:
    config = load_config(REPO / "config" / "monitor.yaml")
    assert "acme" in config.watchlists
    assert config.database_path.name == "monitor.db"


def test_every_documented_key_loads() -> None:
    config = load_config(GOLDEN / "good" / "monitor.yaml")
    acme = config.watchlists["acme"]
    assert acme.alert.spread_threshold == 300
    assert acme.quiet_hours is not None and acme.quiet_hours.timezone == "Europe/London"
    assert config.settings.blogs.follow_comments_for == timedelta(days=7)
    assert config.database_path == GOLDEN / "good" / "state" / "monitor.db"  # relative to the file


def test_a_watchlist_without_name_takes_its_file_name() -> None:
    globex = load_config(GOLDEN / "good" / "monitor.yaml").watchlists["globex"]
    assert globex.quiet_hours is not None and globex.quiet_hours.from_.hour == 22


def test_channel_falls_back_to_the_default_channel() -> None:
    config = load_config(GOLDEN / "good" / "monitor.yaml")
    assert config.channel_for("acme") == "#acme-pr"
    assert config.channel_for("globex") == "#pr-alerts"


BAD = sorted((GOLDEN / "bad").glob("*.yaml"))


@pytest.mark.parametrize("bad", BAD, ids=[b.stem for b in BAD])
def test_a_broken_watchlist_is_reported_with_file_line_and_field(bad: Path, tmp_path: Path) -> None:
    expect = bad.read_text().splitlines()[0].removeprefix("# expect: ").split(" ", 1)
    line, words = expect[0], expect[1]
    folder = tmp_path / "cfg"
    shutil.copytree(GOLDEN / "good", folder)
    for f in (folder / "watchlists").glob("*.yaml"):
        f.unlink()
    shutil.copy(bad, folder / "watchlists" / bad.name)
    with pytest.raises(ConfigError) as caught:
        load_config(folder / "monitor.yaml")
    text = str(caught.value)
    assert f"{bad.name}:{line}:" in text, text
    for word in words.split():
        assert word in text, text


def test_check_config_names_file_line_and_key_and_exits_non_zero(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "cfg"
    shutil.copytree(REPO / "config", folder)
    wl = folder / "watchlists" / "acme.yaml"
    wl.write_text(wl.read_text() + "\ntermz: [oops]\n")
    code = main(["check-config", "--config", str(folder / "monitor.yaml")])
    err = capsys.readouterr().err
    assert code != 0
    line = len(wl.read_text().splitlines())
    assert f"acme.yaml:{line}: termz: unknown key 'termz' (did you mean 'terms'?)" in err


def test_check_config_accepts_the_example(capsys) -> None:
    assert main(["check-config", "--config", str(REPO / "config" / "monitor.yaml")]) == 0
    assert "acme" in capsys.readouterr().out


def test_unknown_settings_keys_are_rejected_too(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    shutil.copytree(GOLDEN / "good", folder)
    (folder / "monitor.yaml").write_text("databse: x.db\nx: {poll_evry: 2m}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(folder / "monitor.yaml")
    text = str(caught.value)
    assert "monitor.yaml:1: databse: unknown key 'databse' (did you mean 'database'?)" in text
    assert "monitor.yaml:2: x.poll_evry" in text and "'poll_every'" in text


def test_a_token_pasted_where_an_env_name_belongs_is_refused_without_echoing_it(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    shutil.copytree(GOLDEN / "good", folder)
    token = ("AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3D"
             "EUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F")
    (folder / "monitor.yaml").write_text(f"x: {{bearer_token_env: '{token}'}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(folder / "monitor.yaml")
    assert "x.bearer_token_env" in str(caught.value)
    assert token not in str(caught.value)


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("5m", 300), ("2h", 7200), ("7d", 604800), ("1h30m", 5400), ("1w", 604800), ("500ms", 0.5),
])
def test_durations_take_units(text: str | int, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m5", "", "-3s", "5x", 45, "45", 0, "0s", -1])
def test_a_duration_without_a_known_unit_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_secrets_come_from_the_environment_and_never_print(tmp_path: Path) -> None:
    secret = resolve_secret("X_BEARER_TOKEN", {"X_BEARER_TOKEN": "s3cr3t-value"})
    assert isinstance(secret, Secret) and secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in f"{secret}"
    assert resolve_secret("X_BEARER_TOKEN", {}) is None


def test_a_systemd_credential_wins_over_the_environment(tmp_path: Path) -> None:
    (tmp_path / "SLACK_BOT_TOKEN").write_text("xoxb-from-credential\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "SLACK_BOT_TOKEN": "xoxb-from-env"}
    secret = resolve_secret("SLACK_BOT_TOKEN", env)
    assert secret is not None and secret.reveal() == "xoxb-from-credential"


def test_monitor_config_env_var_is_the_default_path(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", str(REPO / "config" / "monitor.yaml"))
    assert main(["check-config"]) == 0


def _key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            out += _key_paths(sub, key + ".")
        else:
            out.append(key)
    return out


@pytest.mark.parametrize("model", [Settings, Watchlist], ids=["monitor.yaml", "watchlist"])
def test_every_config_key_is_documented(model: type[BaseModel]) -> None:
    """Ops edit these files from the docs: a key the README and docs/ do not name is a key nobody finds."""
    docs = (REPO / "README.md").read_text() + "".join(p.read_text() for p in (REPO / "docs").glob("*.md"))
    missing = [k for k in _key_paths(model) if f"`{k}`" not in docs]
    assert not missing, f"config keys documented nowhere: {missing}"


@pytest.mark.parametrize("section", ["x", "bluesky", "mastodon", "hn"])
def test_every_key_of_a_source_is_named_in_the_sources_reference(section: str) -> None:
    """docs/sources.md is where a source's keys, costs and limits are looked up: the README's table alone
    is not enough. A key counts as named as ``section.key`` or, inside the section, as a bare ``key``."""
    import re

    docs = (REPO / "docs" / "sources.md").read_text()
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    missing = [f"{section}.{k}" for k in model.model_fields
               if f"`{section}.{k}`" not in docs and not re.search(rf"`[^`\n]*\b{k}\b[^`\n]*`", docs)]
    assert not missing, f"keys docs/sources.md does not name: {missing}"
