"""backroom's settings for one task backend, read from ``TASKS[alias]["OPTIONS"]``.

Project-wide settings that belong to no backend (schedules, retention) live
in ``settings.BACKROOM``, read through ``backroom_setting``.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings

from .limits import QueueLimit, read_queue_limits
from .retry import RetryPolicy

DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendSettings:
    """Validated OPTIONS of one backroom backend; defaults suit a small site."""

    database: str = "default"
    max_attempts: int = 1  # as Django documents: a task that raises ends FAILED
    retry: RetryPolicy = field(default=DEFAULT_RETRY)
    timeout_seconds: float | None = None
    lease_seconds: float = 60.0
    heartbeat_seconds: float = 1.0
    poll_interval_seconds: float | None = None
    shutdown_grace_seconds: float = 30.0
    max_arguments_bytes: int = 1_000_000
    #: Per queue: how many of its jobs may run at once, and how often one may start (docs/limits.md).
    #: Pairs, sorted by queue name, so that the settings stay hashable.
    queue_limits: tuple[tuple[str, QueueLimit], ...] = ()
    # Redis only: see REDIS_OPTIONS.
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "backroom"
    redis_cluster: bool = False
    enqueue_on_commit: bool = False
    result_ttl_seconds: float | None = None
    # RabbitMQ only: see RABBITMQ_OPTIONS.
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    queue_prefix: str = "backroom"


# Checks shared by OPTIONS and task options: each returns what is wrong, or None.


#: The longest duration any option takes: longer ones name dates past datetime's range (or a float's).
MAX_SECONDS = 1000 * 366 * 24 * 3600


def positive_number(value: Any) -> str | None:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_SECONDS:
        # NaN and infinity fail the comparison too; a huge int fails it before any float conversion.
        return "must be a positive number (of seconds, up to 1,000 years)"
    return None


def positive_int(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be a whole number of at least 1"
    return None


#: The most attempts a job may have: what every store's integer column holds, and what readers accept.
MAX_ATTEMPTS_LIMIT = 2**31 - 1


def attempt_count(value: Any) -> str | None:
    if problem := positive_int(value):
        return problem
    return None if value <= MAX_ATTEMPTS_LIMIT else f"must be at most {MAX_ATTEMPTS_LIMIT:,}"


def retry_policy(value: Any) -> str | None:
    return None if isinstance(value, RetryPolicy) else "must be a backroom.RetryPolicy"


def _optional_positive_number(value: Any) -> str | None:
    return None if value is None else positive_number(value)


def _non_empty_string(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be True or False"


def _redis_url(value: Any) -> str | None:
    return _url(value, ("redis://", "rediss://", "unix://"), "must be a redis://, rediss:// or unix:// URL")


def _rabbitmq_url(value: Any) -> str | None:
    return _url(value, ("amqp://", "amqps://"), "must be an amqp:// or amqps:// URL")


def _url(value: Any, schemes: tuple[str, ...], wrong_scheme: str) -> str | None:
    if not isinstance(value, str) or not value.startswith(schemes):
        return wrong_scheme
    try:
        urlsplit(value).port  # noqa: B018 - reading it checks what follows the host
    except ValueError:
        # The client would fail later with a message quoting part of the URL (part of a password, say).
        return "must be a URL whose host and port can be read (percent-encode / ? # @ in a password)"
    return None


def hidden_url(value: Any) -> str:
    """Describe a URL for messages without what may hold a secret: its user, password and query.

    Unlike a parser, this never guesses where the password ends: everything
    up to the last ``@`` goes, so a password holding ``/``, ``#`` or ``@``
    is hidden too.
    """
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    scheme, sep, rest = value.partition("://")
    if not sep:
        return f"a string of {len(value)} characters that is not a URL"
    _, at, place = rest.rpartition("@")
    place = place.split("?", 1)[0].split("#", 1)[0]
    return repr(f"{scheme}://{'***@' if at else ''}{place}")


_KEY_PREFIX = re.compile(r"[^\s*?\[\]\\{}]{1,100}")


def _key_prefix(value: Any) -> str | None:
    if isinstance(value, str) and _KEY_PREFIX.fullmatch(value):
        return None
    return "must be 1 to 100 characters without spaces, braces or glob characters (*?[]\\{})"


#: An OPTIONS key's field name, and a check returning an error message or None.
Option = tuple[str, Callable[[Any], str | None]]
#: Fields whose values error messages describe with ``hidden_url`` instead of quoting them.
_SECRET_FIELDS = {"redis_url", "rabbitmq_url"}

_OPTIONS: dict[str, Option] = {
    "DATABASE": ("database", _non_empty_string),
    "MAX_ATTEMPTS": ("max_attempts", attempt_count),
    "RETRY": ("retry", retry_policy),
    "TIMEOUT": ("timeout_seconds", _optional_positive_number),
    "LEASE_SECONDS": ("lease_seconds", positive_number),
    "HEARTBEAT_SECONDS": ("heartbeat_seconds", positive_number),
    "POLL_INTERVAL_SECONDS": ("poll_interval_seconds", _optional_positive_number),
    "SHUTDOWN_GRACE_SECONDS": ("shutdown_grace_seconds", positive_number),
    "MAX_ARGUMENTS_BYTES": ("max_arguments_bytes", positive_int),
    "QUEUE_LIMITS": ("queue_limits", lambda value: read_queue_limits(value)[1]),
}

#: The options RedisBackend adds to the common ones.
REDIS_OPTIONS: dict[str, Option] = {
    "REDIS_URL": ("redis_url", _redis_url),
    "KEY_PREFIX": ("key_prefix", _key_prefix),
    "REDIS_CLUSTER": ("redis_cluster", _boolean),
    "ENQUEUE_ON_COMMIT": ("enqueue_on_commit", _boolean),
    "RESULT_TTL_SECONDS": ("result_ttl_seconds", _optional_positive_number),
}


#: The options RabbitMQBackend adds to the common ones (its jobs' state is in OPTIONS["DATABASE"]).
RABBITMQ_OPTIONS: dict[str, Option] = {
    "RABBITMQ_URL": ("rabbitmq_url", _rabbitmq_url),
    "QUEUE_PREFIX": ("queue_prefix", _key_prefix),
}


def backroom_setting(key: str, default: Any) -> Any:
    """Return ``settings.BACKROOM[key]``, or ``default`` when it is not set."""
    section = getattr(django_settings, "BACKROOM", None)
    return section.get(key, default) if isinstance(section, Mapping) else default


def as_seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def read_settings(
    alias: str, options: dict[str, Any], store_options: Mapping[str, Option] | None = None
) -> tuple[BackendSettings, list[str]]:
    """Build the settings from OPTIONS; return them with one message per bad option.

    ``store_options`` are the options one kind of store adds to the common
    ones. Bad options fall back to their defaults so that start-up reaches
    the system checks, which report the messages.
    """
    table = {**_OPTIONS, **(store_options or {})}
    values: dict[str, Any] = {}
    errors: list[str] = []
    where = f'TASKS["{alias}"]["OPTIONS"]'
    if not isinstance(options, dict):
        return BackendSettings(), [f"TASKS[{alias!r}]['OPTIONS'] must be a dict, not {options!r}."]
    for key, value in options.items():
        if key not in table:
            known = ", ".join(sorted(table))
            errors.append(f"{where}[{key!r}] is not a backroom option (known: {known}).")
            continue
        name, check = table[key]
        if isinstance(value, timedelta) and name.endswith("seconds"):
            value = value.total_seconds()
        if problem := check(value):
            shown = hidden_url(value) if name in _SECRET_FIELDS else repr(value)
            errors.append(f"{where}[{key!r}] {problem}, not {shown}.")
            continue
        values[name] = value
    if "queue_limits" in values:
        values["queue_limits"] = tuple(sorted(read_queue_limits(values["queue_limits"])[0].items()))
    settings = BackendSettings(**values)
    if settings.heartbeat_seconds >= settings.lease_seconds:
        errors.append(
            f"{where}['HEARTBEAT_SECONDS'] must be shorter than LEASE_SECONDS "
            f"({settings.heartbeat_seconds} >= {settings.lease_seconds}), or running jobs "
            "would be reaped from live workers."
        )
    return settings, errors
