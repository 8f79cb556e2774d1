"""The pieces every config model is built of: durations with their units, sizes, secrets (by the
*name* of what holds them), the strict base model, and validated fields (URLs, terms, clock times).
"""

from __future__ import annotations

import os
import re
import typing
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from monitor.config.yamlfile import excerpt

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The longest duration anything takes. A time plus a longer one can pass year 9999, which Python's
# datetime cannot hold: ``detection.window: 200000w`` passed check-config and crashed ``run``.
MAX_DURATION = timedelta(days=3650)


_DEFAULT_UNIT: dict[str, str] = {}  # a duration field's name -> the unit of its default (filled below)
# Durations that may be zero, and what zero means there; every other one must be more than zero.
ZERO_MEANS = {"source_quiet_after": "off", "debounce": "at once", "cooldown": "none", "min_interval": "no spacing",
              "follow_comments_for": "no comment threads"}


def parse_duration(value: Any, info: ValidationInfo | None = None, *, unit: str = "m") -> timedelta:
    """``90s``, ``5m``, ``1h30m``, ``7d``, ``2w``: a number with its unit, more than zero and at most
    ``MAX_DURATION`` (10 years). Raises ValueError saying what to write instead.

    A bare number is refused ("30 what? write 30d"): ``retention: 30`` once pruned a live database
    as 30 seconds. The suggested unit is the one the field's default is written in (``unit`` outside
    a model). Zero is accepted (also bare) only where it means something (``ZERO_MEANS``).
    """
    field = info.field_name if info is not None else None
    if field is not None:
        unit = _DEFAULT_UNIT.get(field, "s")
    zero_ok = field in ZERO_MEANS
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == 0 and not zero_ok:
            raise ValueError("must be more than 0")
        if value != 0:
            number = f"{value:g}" if isinstance(value, float) else str(value)
            raise ValueError(f"{number} what? write {number.lstrip('-')}{unit}"
                             + (" (a duration is never negative)" if value < 0 else ""))
        seconds = 0.0
    elif not isinstance(value, str):
        raise ValueError("expected a duration such as 90s, 5m, 2h or 7d")
    else:
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"-?\d+(\.\d+)?", text) and float(text) != 0:
            raise ValueError(f"{text} what? write {text.lstrip('-')}{unit}")
        pos, total = 0, 0.0
        for m in _DURATION_PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if text.startswith("-"):
            raise ValueError(f"{excerpt(value)!r}: a duration is never negative")
        if not text or (pos != len(text) and not re.fullmatch(r"0+(\.0+)?", text)):
            raise ValueError(f"{excerpt(value)!r} is not a duration: use a number with a unit, such as 90s, 5m, "
                             "2h or 7d")
        seconds = total
    if seconds < 0:
        raise ValueError("a duration is never negative")
    if seconds == 0 and not zero_ok:
        raise ValueError("must be more than 0")
    if seconds > MAX_DURATION.total_seconds():  # also inf, from a number of 400 digits
        shown = f"{excerpt(value)!r}" if isinstance(value, str) else "this"
        raise ValueError(f"{shown} is too long: a duration is at most 10 years (3650d)")
    return timedelta(seconds=seconds)


def _duration_field(value: Any, info: ValidationInfo) -> timedelta:
    return parse_duration(value, info)


Duration = Annotated[timedelta, BeforeValidator(_duration_field)]


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


MAX_URL_LENGTH = 2048  # characters of a URL: what browsers and servers commonly take


def _http_url(value: str) -> str:
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"a URL is at most {MAX_URL_LENGTH:,} characters; this one has {len(value):,}")
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{excerpt(value)!r} is not an http(s) URL")
    return value


MAX_TERMS = 1000        # terms (and exclusions) per watch-list; X's query allows far fewer anyway
MAX_TERM_LENGTH = 100   # characters per term


def _term(value: str) -> str:
    if not str(value).strip():
        raise ValueError("a term cannot be blank")
    if len(value) > MAX_TERM_LENGTH:
        raise ValueError(f"a term is at most {MAX_TERM_LENGTH} characters; this one has {len(value)}")
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


def _default_units() -> None:
    """The unit a bare number is most likely meant in, per field: the largest that divides its default."""
    models: list[type[BaseModel]] = [_Strict]
    while models:
        model = models.pop()
        models += model.__subclasses__()
        for name, info in model.model_fields.items():
            if isinstance(info.default, timedelta) and name not in _DEFAULT_UNIT:
                secs = int(info.default.total_seconds())
                _DEFAULT_UNIT[name] = next((u for u, n in (("d", 86400), ("h", 3600), ("m", 60))
                                            if secs and secs % n == 0), "s")

