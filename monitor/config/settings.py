"""Settings (monitor.yaml) and watch-lists (watchlists/*.yaml): pydantic models at the config edge.

Loading is strict: unknown keys are rejected with a did-you-mean, and every problem is reported as
``file:line: field: explanation`` so ops can fix a watch-list without reading code. Secrets are never
in these files, only the *name* of the environment variable (or systemd credential) that holds them.
"""

from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
)

from monitor.config.yamlfile import read_yaml, validate
from monitor.errors import ConfigError

DEFAULT_CONFIG = "config/monitor.yaml"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``5m``, ``1h30m``, ``7d``, ``2w``, or a bare number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 90s, 5m, 2h or 7d")
    text = value.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"{value!r} is not a duration: use a number with a unit, such as 90s, 5m, 2h or 7d")
    return timedelta(seconds=total)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _parse_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*", str(value).lower())
    if not m:
        raise ValueError(f"{value!r} is not a size: use bytes or a unit, such as 512KB or 5MB")
    mult = {None: 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
    return int(float(m.group(1)) * mult[m.group(2)])


ByteSize = Annotated[int, BeforeValidator(_parse_size)]


class Secret:
    """A token that prints as ``<secret>`` in reprs, logs and tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def resolve_secret(name: str | None, env: typing.Mapping[str, str] | None = None) -> Secret | None:
    """Look a secret up by name: a systemd credential file first, then the environment.

    ``$CREDENTIALS_DIRECTORY/<name>`` is what ``LoadCredential=<name>:...`` provides.
    """
    if not name:
        return None
    env = os.environ if env is None else env
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        path = Path(cred_dir) / name
        if path.is_file():
            value = path.read_text().strip()
            if value:
                return Secret(value)
    value = env.get(name, "").strip()
    return Secret(value) if value else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(
            "must be the NAME of an environment variable (like X_BEARER_TOKEN), never the token itself"
        )
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _term(value: str) -> str:
    if not str(value).strip():
        raise ValueError("a term cannot be blank")
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]
Term = Annotated[str, AfterValidator(_term)]


def _clock_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML 1.1 reads 22:00 unquoted as sexagesimal 1320
        return time(value // 60 % 24, value % 60)
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(value))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{value!r} is not a time of day such as 07:30")
    return time(int(m.group(1)), int(m.group(2)))


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class XSettings(_Strict):
    enabled: bool = True
    bearer_token_env: str | None = "X_BEARER_TOKEN"
    api_url: str = "https://api.twitter.com"
    poll_every: Duration = timedelta(minutes=2)
    monthly_read_budget: int = Field(10000, ge=0)
    max_pages_per_cycle: int = Field(5, ge=1, le=100)
    page_size: int = Field(100, ge=10, le=100)
    fast_poll_every: Duration = timedelta(seconds=30)

    _check_env = field_validator("bearer_token_env")(_env_name)
    _check_url = field_validator("api_url")(_http_url)


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


class SlackSettings(_Strict):
    token_env: str | None = "SLACK_BOT_TOKEN"
    webhook_url_env: str | None = "SLACK_WEBHOOK_URL"
    api_url: str = "https://slack.com/api/"
    default_channel: str = "#pr-alerts"
    min_interval: Duration = timedelta(seconds=1)
    delivery_deadline: Duration = timedelta(hours=6)
    digest_at: ClockTime | None = None  # daily digest time of day, in digest_timezone
    digest_timezone: str = "UTC"

    _check_env = field_validator("token_env", "webhook_url_env")(_env_name)
    _check_url = field_validator("api_url")(_http_url)

    @field_validator("digest_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _timezone(value)


class DetectionSettings(_Strict):
    every: Duration = timedelta(seconds=30)
    debounce: Duration = timedelta(seconds=2)        # a pass this soon after a poll grows a cascade
    window: Duration = timedelta(hours=48)
    spike_window: Duration = timedelta(minutes=30)
    spike_min_complaints: int = Field(8, ge=1)
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
    slack: SlackSettings = SlackSettings()
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


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA timezone such as Europe/London") from None
    return value




class QuietHours(_Strict):
    from_: ClockTime = Field(alias="from")
    to: ClockTime
    timezone: str = "UTC"
    min_severity: float = Field(2.0, ge=0)  # alerts at or above this still go out at night

    _check_tz = field_validator("timezone")(_timezone)


# alert.sensitivity -> the storm probability a complaint's cascade must reach to alert.
SENSITIVITY = {"low": 0.8, "normal": 0.6, "high": 0.4}


class AlertSettings(_Strict):
    spread_threshold: int = Field(300, ge=1)
    vip_threshold: int | None = Field(None, ge=1)  # default: a fifth of spread_threshold
    cooldown: Duration = timedelta(minutes=10)
    spike: bool = True
    growth_factor: float = Field(2.0, gt=1)  # an update when an alerted cascade grows this many times over
    # How sure the detector must be that a complaint will pass the threshold before it alerts
    # (SENSITIVITY maps each to a probability; docs/detection.md gives the figures for each).
    sensitivity: Literal["low", "normal", "high"] = "normal"

    @property
    def alert_probability(self) -> float:
        return SENSITIVITY[self.sensitivity]

    @property
    def effective_vip_threshold(self) -> int:
        return self.vip_threshold or max(1, self.spread_threshold // 5)


class Watchlist(_Strict):
    name: str
    terms: list[Term] = Field(min_length=1)
    exclude: list[Term] = []
    feeds: list[HttpURL] = []
    comment_feeds: list[HttpURL] = []
    x_query: str | None = None
    channel: str | None = None
    vip_authors: list[str] = []
    alert: AlertSettings = AlertSettings()
    quiet_hours: QuietHours | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError("use letters, digits, '-', '_' or '.', starting with a letter or digit")
        return value

    # vip_handles is asked for every mention of a replay: built once, after validation.
    _vip_handles: frozenset[str] = PrivateAttr(default=frozenset())

    def model_post_init(self, context: Any, /) -> None:
        self._vip_handles = frozenset(h.lstrip("@").lower() for h in self.vip_authors)

    @property
    def vip_handles(self) -> frozenset[str]:
        return self._vip_handles


@dataclass(frozen=True)
class Config:
    """Everything loaded: settings, watch-lists by name, and where they came from."""

    path: Path
    settings: Settings
    watchlists: dict[str, Watchlist]

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
    raw = read_yaml(cfg_path, problems)
    settings = validate(Settings, raw, cfg_path, problems) if raw is not None else None
    if settings is None:
        raise ConfigError(problems)
    config = Config(cfg_path, settings, {})
    wl_dir = config.watchlist_dir
    if not wl_dir.is_dir():
        raise ConfigError([f"{cfg_path}:1: watchlists: folder {wl_dir} does not exist; create it or fix the path"])
    seen: dict[str, Path] = {}
    for file in sorted(wl_dir.glob("*.y*ml")):
        data = read_yaml(file, problems)
        if data is None:
            continue
        if isinstance(data.value, dict) and "name" not in data.value:
            data.value["name"] = file.stem
        wl = validate(Watchlist, data, file, problems)
        if wl is None:
            continue
        if wl.name in seen:
            problems.append(f"{file}:{data.line_of(('name',))}: name: '{wl.name}' is also used by {seen[wl.name]}")
            continue
        seen[wl.name] = file
        config.watchlists[wl.name] = wl
    if problems:
        raise ConfigError(problems)
    return config
