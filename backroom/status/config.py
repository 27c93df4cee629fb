"""The status endpoint's settings, read from ``settings.BACKROOM`` on every request.

``STATUS_STREAMS_MAX`` open event streams at most in one server process, and
``STATUS_STREAMS_PER_TOKEN`` for one result (every token of that result
counts together); past either, a new stream is answered 503 with
``Retry-After``. ``STATUS_TOKEN_MAX_AGE`` (seconds or a timedelta; None: no
expiry) refuses tokens signed longer ago than that, on every request and at
every read of a stream.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..conf import as_seconds, backroom_setting, positive_int, positive_number


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusSettings:
    streams_max: int = 100
    streams_per_token: int = 2
    token_max_age_seconds: float | None = None


def _max_age(value: Any) -> str | None:
    return None if value is None else positive_number(value)


_MISSING = object()
_SETTINGS = {
    "STATUS_STREAMS_MAX": ("streams_max", positive_int),
    "STATUS_STREAMS_PER_TOKEN": ("streams_per_token", positive_int),
    "STATUS_TOKEN_MAX_AGE": ("token_max_age_seconds", _max_age),
}


def read_status_settings() -> tuple[StatusSettings, list[str]]:
    """Build the settings; a bad value falls back to its default, with a message naming it."""
    values: dict[str, Any] = {}
    errors = []
    for key, (name, check) in _SETTINGS.items():
        value = backroom_setting(key, _MISSING)
        if value is _MISSING:
            continue
        if problem := check(value):
            errors.append(f"BACKROOM[{key!r}] {problem}, not {value!r}.")
            continue
        values[name] = as_seconds(value) if isinstance(value, timedelta) else value
    return StatusSettings(**values), errors


def status_settings() -> StatusSettings:
    return read_status_settings()[0]
