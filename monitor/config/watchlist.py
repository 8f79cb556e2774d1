"""A watch-list (watchlists/*.yaml): what to look for, where, and how its alerts behave."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, PrivateAttr, field_validator

from monitor.config.fields import MAX_TERMS, ClockTime, Duration, HttpURL, Term, _Strict

# How long each list of a watch-list may be (docs/operations.md, "Limits on the configuration files"):
# far more than a brand needs, far less than a 1 MiB file holds (30,639 feeds once passed check-config,
# each one a fetch every poll).
MAX_FEEDS = 500            # blog feeds, fetched each poll within blogs.max_connections
MAX_COMMENT_FEEDS = 500    # comment feeds named in the watch-list
MAX_VIP_AUTHORS = 1000
MAX_HASHTAGS = 100         # Mastodon hashtags: one timeline read per hashtag and instance each poll
MAX_INSTANCES = 50         # Mastodon instances
MAX_PLAYBOOK_STEPS = 100


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


class PlaybookStep(_Strict):
    """One rule of a watch-list's playbook: when a storm matches (every given key), who acts and how."""

    category: str | None = None       # the complaint's category (billing, delivery, ...)
    specific: bool | None = None      # a specific, actionable complaint (true) or a vague one (false)
    vip: bool | None = None           # a VIP or journalist is involved
    kind: Literal["cascade", "spike"] | None = None
    who: str = Field(min_length=1, max_length=80)    # shown as written, never as a ping
    do: str = Field(min_length=1, max_length=200)    # the one-line instruction
    # A real Slack user (U.../W...) or user group (S...) id to ping; only from this config.
    slack_id: str | None = None

    @field_validator("slack_id")
    @classmethod
    def _slack_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[SUW][A-Z0-9]{2,20}", value):
            raise ValueError("must be a Slack user id (U.../W...) or user group id (S...)")
        return value


def _instance(value: str) -> str:
    """An instance as its base URL: ``mastodon.social`` is ``https://mastodon.social``."""
    text = value.strip().rstrip("/")
    if not re.match(r"^https?://", text):
        text = "https://" + text.lower()
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?", text):
        raise ValueError(f"{value!r} is not an instance such as mastodon.social (or https://host:port)")
    return text


def _hashtag(value: str) -> str:
    text = value.strip().lstrip("#")
    if not re.fullmatch(r"\w+", text):
        raise ValueError(f"{value!r} is not a hashtag (letters, digits and _ only, without spaces)")
    return text


class MastodonWatch(_Strict):
    """Where a watch-list looks on Mastodon: each hashtag's public timeline on each instance."""

    instances: list[Annotated[str, AfterValidator(_instance)]] = Field(min_length=1, max_length=MAX_INSTANCES)
    hashtags: list[Annotated[str, AfterValidator(_hashtag)]] = Field(min_length=1, max_length=MAX_HASHTAGS)


class Watchlist(_Strict):
    name: str
    terms: list[Term] = Field(min_length=1, max_length=MAX_TERMS)
    exclude: list[Term] = Field([], max_length=MAX_TERMS)
    feeds: list[HttpURL] = Field([], max_length=MAX_FEEDS)
    comment_feeds: list[HttpURL] = Field([], max_length=MAX_COMMENT_FEEDS)
    x_query: str | None = None
    mastodon: MastodonWatch | None = None
    hn: bool = True  # search Hacker News for this watch-list's terms (when hn.enabled)
    channel: str | None = None
    vip_authors: list[str] = Field([], max_length=MAX_VIP_AUTHORS)
    alert: AlertSettings = AlertSettings()
    quiet_hours: QuietHours | None = None
    # The first matching step is the alert's next step.
    playbook: list[PlaybookStep] = Field([], max_length=MAX_PLAYBOOK_STEPS)

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
