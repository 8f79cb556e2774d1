"""Settings (monitor.yaml) and watch-lists (watchlists/*.yaml): pydantic models at the config edge.

Loading is strict: unknown keys are rejected with a did-you-mean, and every problem is reported as
``file:line: field: explanation`` so ops can fix a watch-list without reading code. Secrets are never
in these files, only the *name* of the environment variable (or systemd credential) that holds them.
"""

from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from monitor.config.fields import MAX_TERM_LENGTH as MAX_TERM_LENGTH
from monitor.config.fields import MAX_TERMS as MAX_TERMS
from monitor.config.fields import (
    ByteSize,
    ClockTime,
    Duration,
    _default_units,
    _env_name,
    _http_url,
    _Strict,
)
from monitor.config.fields import Secret as Secret
from monitor.config.fields import parse_duration as parse_duration
from monitor.config.fields import resolve_secret as resolve_secret
from monitor.config.watchlist import SENSITIVITY as SENSITIVITY
from monitor.config.watchlist import AlertSettings as AlertSettings
from monitor.config.watchlist import PlaybookStep as PlaybookStep
from monitor.config.watchlist import QuietHours as QuietHours
from monitor.config.watchlist import Watchlist, _timezone
from monitor.config.yamlfile import FileProblems, Located, read_yaml, validate
from monitor.errors import ConfigError

DEFAULT_CONFIG = "config/monitor.yaml"
MAX_WATCHLISTS = 1000  # watch-list files in the folder; each is read at every reload

class XSettings(_Strict):
    enabled: bool = True
    bearer_token_env: str | None = "X_BEARER_TOKEN"
    api_url: str = "https://api.twitter.com"
    poll_every: Duration = timedelta(minutes=2)
    monthly_read_budget: int = Field(10000, ge=0)
    max_pages_per_cycle: int = Field(5, ge=1, le=100)
    page_size: int = Field(100, ge=10, le=100)
    fast_poll_every: Duration = timedelta(seconds=30)
    # Money (pay-per-use, docs/sources.md "X costs"): prices are X's published rates, as defaults.
    monthly_budget_usd: float | None = Field(None, ge=0)
    price_per_post_read: float = Field(0.005, ge=0)
    price_per_user_read: float = Field(0.010, ge=0)
    price_per_count_request: float = Field(0.005, ge=0)
    complaint_reserve: float = Field(0.25, ge=0, le=1)  # share of the paced budget chatter may not spend
    # Spread by post lookup: open complaints' public_metrics, on a cadence that follows their growth.
    lookup: bool = True
    lookup_every: Duration = timedelta(minutes=1)
    lookup_min_interval: Duration = timedelta(minutes=2)
    lookup_max_interval: Duration = timedelta(hours=1)
    fetch_reactions: bool = True  # replies (conversation_id: search) and quotes (quote-posts endpoint)
    # Volume from /2/tweets/counts/recent: auto = when search does not read everything.
    volume_counts: Literal["auto", "always", "off"] = "auto"
    counts_every: Duration = timedelta(minutes=10)
    # Filtered stream instead of recent search.
    mode: Literal["search", "stream"] = "search"
    stream_backfill_minutes: int = Field(0, ge=0, le=5)  # X's backfill: Enterprise access only
    stream_poll_every: Duration = timedelta(seconds=5)

    _check_env = field_validator("bearer_token_env")(_env_name)
    _check_url = field_validator("api_url")(_http_url)

    @field_validator("lookup_max_interval")
    @classmethod
    def _after_min(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        low = info.data.get("lookup_min_interval")
        if low is not None and value < low:
            raise ValueError(f"must not be shorter than lookup_min_interval ({low.total_seconds():.0f}s)")
        return value


class BlogSettings(_Strict):
    enabled: bool = True
    poll_every: Duration = timedelta(minutes=10)
    follow_comments_for: Duration = timedelta(days=7)
    comments_poll_every: Duration = timedelta(minutes=10)
    fast_comments_poll_every: Duration = timedelta(minutes=1)
    timeout: Duration = timedelta(seconds=20)
    max_bytes: ByteSize = 5 * 10**6
    max_connections: int = Field(20, ge=1, le=500)
    max_per_host: int = Field(2, ge=1, le=50)
    user_agent: str = "monitor/0.1 (+https://github.com/monitor-pr/monitor; social media monitoring)"
    # Fetch from loopback, private (RFC 1918, ULA), link-local and other non-global addresses: off, so
    # that a feed cannot make the daemon read internal URLs (its comment feeds name any URL they like).
    allow_private_addresses: bool = False


def _ws_url(value: str) -> str:
    if not re.match(r"^wss?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not a ws(s) URL")
    return value


JETSTREAM_COLLECTIONS = ("app.bsky.feed.post", "app.bsky.feed.repost")


class BlueskySettings(_Strict):
    """Bluesky through Jetstream (docs/sources.md): off unless turned on, since it reads the whole network."""

    enabled: bool = False
    jetstream_url: str = "wss://jetstream2.us-east.bsky.network/subscribe"
    api_url: str = "https://public.api.bsky.app"  # the public AppView: app.bsky.actor.getProfiles
    collections: list[str] = ["app.bsky.feed.post", "app.bsky.feed.repost"]  # reposts may be left out
    poll_every: Duration = timedelta(seconds=10)
    rewind: Duration = timedelta(seconds=5)          # replay this much before the cursor on each connect
    backfill: Duration = timedelta(minutes=10)       # the very first poll (no cursor yet) starts this far back
    max_read: Duration = timedelta(seconds=30)       # one poll reads the stream at most this long
    idle_timeout: Duration = timedelta(seconds=2)    # no event for this long: the poll has caught up
    max_events_per_poll: int = Field(200_000, ge=100)
    profile_ttl: Duration = timedelta(hours=6)       # how long an author's follower count is trusted
    timeout: Duration = timedelta(seconds=20)

    _check_ws = field_validator("jetstream_url")(_ws_url)
    _check_url = field_validator("api_url")(_http_url)

    @field_validator("collections")
    @classmethod
    def _collections(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in JETSTREAM_COLLECTIONS]
        if unknown or "app.bsky.feed.post" not in value:
            raise ValueError(f"must include app.bsky.feed.post; known collections: {', '.join(JETSTREAM_COLLECTIONS)}")
        return list(dict.fromkeys(value))


class MastodonSettings(_Strict):
    """How Mastodon instances are polled; which instances and hashtags is each watch-list's ``mastodon``."""

    enabled: bool = True
    poll_every: Duration = timedelta(minutes=2)
    # Instance host (as in a watch-list, e.g. mastodon.social) -> the NAME of the environment variable
    # holding an access token for it; with a token the instance's status search is used too.
    token_envs: dict[str, str] = {}
    page_limit: int = Field(40, ge=1, le=40)          # statuses a page (the API's maximum is 40)
    max_pages_per_cycle: int = Field(5, ge=1, le=50)
    requests_per_window: int = Field(300, ge=1)       # Mastodon's default: 300 requests per 5 minutes per IP
    rate_window: Duration = timedelta(minutes=5)
    follow_threads_for: Duration = timedelta(hours=24)  # replies and boosts of a found status are fetched this long
    max_threads_per_cycle: int = Field(20, ge=0, le=500)

    @field_validator("token_envs")
    @classmethod
    def _envs(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            _env_name(name)
        return {k.lower(): v for k, v in value.items()}


class HNSettings(_Strict):
    """Hacker News through the public Algolia search (hn.algolia.com); off unless turned on."""

    enabled: bool = False
    api_url: str = "https://hn.algolia.com/api/v1"
    poll_every: Duration = timedelta(minutes=2)
    hits_per_page: int = Field(100, ge=1, le=1000)
    max_pages_per_cycle: int = Field(5, ge=1, le=50)
    requests_per_hour: int = Field(10_000, ge=1)      # Algolia's documented limit per IP
    backfill: Duration = timedelta(hours=1)           # how far back the very first poll of a term looks
    follow_threads_for: Duration = timedelta(hours=48)  # comments of a found story are fetched this long
    max_threads_per_cycle: int = Field(30, ge=0, le=1000)

    _check_url = field_validator("api_url")(_http_url)


class SlackSettings(_Strict):
    token_env: str | None = "SLACK_BOT_TOKEN"
    webhook_url_env: str | None = "SLACK_WEBHOOK_URL"
    api_url: str = "https://slack.com/api/"
    default_channel: str = "#pr-alerts"
    min_interval: Duration = timedelta(seconds=1)
    delivery_deadline: Duration = timedelta(hours=6)
    digest_at: ClockTime | None = None  # daily digest time of day, in digest_timezone
    digest_timezone: str = "UTC"

    # The app-level token (xapp-...) for Socket Mode: with it the alerts carry buttons (docs/slack.md).
    app_token_env: str | None = "SLACK_APP_TOKEN"

    _check_env = field_validator("token_env", "webhook_url_env", "app_token_env")(_env_name)
    _check_url = field_validator("api_url")(_http_url)

    @field_validator("digest_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _timezone(value)


class TeamsSettings(_Strict):
    """Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received")."""

    webhook_url_env: str | None = "TEAMS_WEBHOOK_URL"

    _check_env = field_validator("webhook_url_env")(_env_name)


class DetectionSettings(_Strict):
    every: Duration = timedelta(seconds=30)
    debounce: Duration = timedelta(seconds=2)        # a pass this soon after a poll grows a cascade
    window: Duration = timedelta(hours=48)
    spike_window: Duration = timedelta(minutes=30)
    spike_min_complaints: int = Field(8, ge=1)
    spike_min_outage_reports: int = Field(5, ge=1)   # the outage-report test's own minimum
    # Projection of a cascade's final size (SEISMIC); every key is explained in docs/detection.md.
    kernel_s0: Duration = timedelta(minutes=5)       # reaction delays: constant density this long ...
    kernel_theta: float = Field(0.242, gt=0, lt=2)   # ... then a power law s^-(1+theta)
    horizon: Duration = timedelta(hours=24)          # "final size" counts reactions within this of a post
    n_star: float = Field(100.0, gt=0)               # prior followers of a typical future reactor
    reach_exponent: float = Field(0.5, gt=0, le=1)   # a reaction's pull grows as followers ** this
    follower_cap: int = Field(100_000, ge=1)         # one account's followers count at most this much
    prior_branching: float = Field(0.3, ge=0, lt=1)  # reactions to a reaction, before any is seen
    min_reactions: int = Field(10, ge=1)             # never alert on a projection from fewer reactions
    confidence: float = Field(0.9, ge=0.5, lt=1)     # projected_low holds with this probability
    max_branching: float = Field(0.9, gt=0, lt=1)    # cap on the estimated branching factor p * n_star
    # Volume spikes
    spike_p_value: float = Field(1e-4, gt=0, lt=1)   # how improbable the window's count must be
    spike_ratio: float = Field(2.0, ge=1)            # and at least this many times the baseline
    spike_history: Duration = timedelta(weeks=4)     # how far back hour-of-week baselines look


class HTTPSettings(_Strict):
    listen: str | None = None  # "127.0.0.1:9464" turns on /healthz and /metrics


class ClusterSettings(_Strict):
    """Several instances against one PostgreSQL database (docs/operations.md)."""

    instance: str | None = None  # default: hostname:pid
    lease_timeout: Duration = timedelta(seconds=30)  # a lease not renewed this long is taken over

    @field_validator("lease_timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=2):
            raise ValueError("must be at least 2s (leases are renewed every third of it)")
        return value


def is_database_url(value: str) -> bool:
    return value.startswith(("postgresql://", "postgres://"))


class Settings(_Strict):
    database: str = "var/monitor.db"  # a SQLite file, or postgresql://user@host/db
    watchlists: str = "watchlists/"
    x: XSettings = XSettings()
    blogs: BlogSettings = BlogSettings()
    bluesky: BlueskySettings = BlueskySettings()
    mastodon: MastodonSettings = MastodonSettings()
    hn: HNSettings = HNSettings()
    slack: SlackSettings = SlackSettings()
    teams: TeamsSettings = TeamsSettings()
    detection: DetectionSettings = DetectionSettings()
    http: HTTPSettings = HTTPSettings()
    retention: Duration = timedelta(days=30)
    source_quiet_after: Duration = timedelta(hours=6)  # alert when a source yields nothing or fails this long; 0 = off
    log_level: str = "INFO"
    cluster: ClusterSettings = ClusterSettings()

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        if is_database_url(value):
            parts = urlsplit(value)
            if parts.password is not None or "password=" in parts.query:
                raise ValueError("a password in the URL is refused: put it in PGPASSWORD (environment or "
                                 "systemd credential) or ~/.pgpass")
            if not parts.hostname and "host=" not in parts.query:
                raise ValueError("name the server: postgresql://user@host/database")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value.upper()


@dataclass(frozen=True)
class Origin:
    """Where a watch-list was read: its file and the line of each of its top-level keys."""

    path: Path
    lines: dict[str, int] = field(default_factory=dict)

    def at(self, key: str) -> str:
        """``file:line`` of ``key`` (of the file's first line when the key is not written)."""
        return f"{self.path}:{self.lines.get(key, 1)}"


@dataclass(frozen=True)
class Config:
    """Everything loaded: settings, watch-lists by name, and where they came from."""

    path: Path
    settings: Settings
    watchlists: dict[str, Watchlist]
    origins: dict[str, Origin] = field(default_factory=dict)  # watch-list name -> where it was read
    lines: dict[str, int] = field(default_factory=dict)       # top-level key of monitor.yaml -> its line

    def line_of(self, key: str) -> int:
        """The line of a top-level key of monitor.yaml (1 when it is not written)."""
        return self.lines.get(key, 1)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return Path(os.path.normpath(p if p.is_absolute() else (self.base_dir / p)))

    @property
    def database_path(self) -> Path:
        """The SQLite file (for a PostgreSQL URL: the URL as a path, for messages only)."""
        return self.resolve(self.settings.database) if not self.database_is_url else Path(self.settings.database)

    @property
    def database_is_url(self) -> bool:
        return is_database_url(self.settings.database)

    @property
    def database(self) -> str | Path:
        """What ``Store`` opens: the SQLite file, or the PostgreSQL URL."""
        return self.settings.database if self.database_is_url else self.database_path

    @property
    def watchlist_dir(self) -> Path:
        return self.resolve(self.settings.watchlists)

    def channel_for(self, watchlist: str) -> str:
        wl = self.watchlists.get(watchlist)
        return (wl.channel if wl and wl.channel else None) or self.settings.slack.default_channel


def default_config_path(env: typing.Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("MONITOR_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate monitor.yaml and every watch-list it points to.

    Raises ConfigError listing every problem found, each as ``file:line: field: explanation``.
    """
    cfg_path = Path(path) if path is not None else default_config_path()
    problems: list[str] = []
    found = FileProblems(cfg_path)
    raw = read_yaml(cfg_path, found)
    settings = validate(Settings, raw, cfg_path, found) if raw is not None else None
    problems += found.lines()
    if raw is None:
        raise ConfigError(problems)
    if settings is not None and settings.x.mode == "stream" and is_database_url(settings.database):
        # XStreamSource.sync_rules deletes every monitor:* rule it does not want: instances sharing one
        # app's stream would delete each other's rules (and X allows an app one stream connection).
        problems.append(f"{cfg_path}:{raw.line_of(('x', 'mode'))}: x.mode: stream cannot run with a PostgreSQL "
                        "database (several instances): each would delete the others' stream rules; use "
                        "x.mode: search")
    # The watch-lists are checked even when the settings are not, so one run reports both.
    folder = settings.watchlists if settings is not None else _folder_written(raw)
    config = Config(cfg_path, settings or Settings(), {}, lines={k[0]: n for k, n in raw.lines.items() if len(k) == 1})
    wl_dir = config.resolve(folder)
    if not wl_dir.is_dir():
        line = raw.line_of(("watchlists",))
        problems.append(f"{cfg_path}:{line}: watchlists: folder {wl_dir} does not exist; create it or fix the path")
        raise ConfigError(problems)
    files = watchlist_files(wl_dir)
    if len(files) > MAX_WATCHLISTS:
        problems.append(f"{cfg_path}:{raw.line_of(('watchlists',))}: watchlists: {wl_dir} holds {len(files):,} "
                        f"watch-list files, more than the {MAX_WATCHLISTS:,} monitor reads; merge some (a watch-list "
                        f"takes up to {MAX_TERMS:,} terms)")
        raise ConfigError(problems)
    seen: dict[str, Path] = {}
    for file in files:
        found = FileProblems(file)
        data = read_yaml(file, found)
        if data is not None and "name" not in data.value:
            data.value["name"] = file.stem
        wl = validate(Watchlist, data, file, found) if data is not None else None
        problems += found.lines()
        if data is None or wl is None:
            continue
        if wl.name in seen:
            problems.append(f"{file}:{data.line_of(('name',))}: name: '{wl.name}' is also used by {seen[wl.name]}")
            continue
        seen[wl.name] = file
        config.watchlists[wl.name] = wl
        config.origins[wl.name] = Origin(file, {k[0]: n for k, n in data.lines.items() if len(k) == 1})
    if problems or settings is None:
        raise ConfigError(problems)
    return config


def watchlist_files(folder: Path) -> list[Path]:
    """The watch-list files of a folder: its ``*.yaml`` and ``*.yml``, in name order."""
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in (".yaml", ".yml") and not f.name.startswith("."))


def _folder_written(raw: Located) -> str:
    """The watch-list folder named in settings that did not validate (the default if it is unusable)."""
    value = raw.value.get("watchlists")
    return value if isinstance(value, str) and value.strip() else Settings.model_fields["watchlists"].default




_default_units()
