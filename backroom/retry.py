"""Retry policies: when a failed attempt is tried again, and after how long."""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.module_loading import import_string

from .exceptions import JobTimeout

#: The longest wait a policy may ask for: later retries would be stored past any useful date.
MAX_BACKOFF_SECONDS = 366 * 24 * 3600.0


def _path(named: Any) -> str:
    return f"{named.__module__}.{named.__qualname__}"


def _seconds(value: Any, what: str) -> float:
    """A delay given as seconds or a timedelta, as finite seconds within MAX_BACKOFF_SECONDS."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise ValueError(f"{what} must be seconds (a finite number) or a timedelta, not {value!r}.")
    return min(max(float(seconds), 0.0), MAX_BACKOFF_SECONDS)


#: A policy's own backoff: (failed attempt, its exception) -> the wait (seconds, timedelta), or None: give up.
Backoff = Callable[[int, BaseException], float | timedelta | None]


class Retry(Exception):
    """Raise it in a task to run the next attempt when the task says (a ``Retry-After`` header, say).

    ``after`` is seconds or a timedelta from now, ``at`` an aware datetime. The
    failed attempt counts: with none left the job ends FAILED with this error.
    The retry policy's ``retry_on`` and backoff do not apply to it.
    """

    def __init__(self, after: float | timedelta | None = None, *, at: datetime | None = None) -> None:
        if (after is None) == (at is None):
            raise TypeError("Retry needs one of after= (seconds or a timedelta) or at= (a datetime).")
        if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
            raise TypeError(f"Retry(at=...) must be an aware datetime, not {at!r}.")
        self.after = None if after is None else _seconds(after, "Retry(after=...)")
        self.at = at
        super().__init__(f"retry at {at.isoformat()}" if at is not None else f"retry after {self.after:g}s")

    def delay(self, now: datetime) -> timedelta:
        """The wait from ``now``: never negative, at most MAX_BACKOFF_SECONDS."""
        if self.at is not None:
            return timedelta(seconds=_seconds((self.at - now).total_seconds(), "Retry(at=...)"))
        return timedelta(seconds=self.after or 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    The delay after failed attempt n is ``backoff_seconds * factor ** (n - 1)``,
    capped at ``max_backoff_seconds``, then shortened by a random fraction of
    up to ``jitter`` so that jobs that failed together do not retry together.
    Only exceptions that are instances of ``retry_on`` lead to another attempt.
    ``backoff``, a module-level function ``(attempt, exception) -> seconds``
    (or a timedelta, or None to give up), replaces that formula and the jitter
    when the wait depends on the error; ``max_backoff_seconds`` still caps it.
    """

    backoff_seconds: float = 1.0
    factor: float = 2.0
    max_backoff_seconds: float = 3600.0
    jitter: float = 0.25
    retry_on: tuple[type[BaseException], ...] = field(default=(Exception, JobTimeout))
    backoff: Backoff | None = None

    def __post_init__(self) -> None:
        numbers = (self.backoff_seconds, self.factor, self.max_backoff_seconds, self.jitter)
        if not all(
            isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) for n in numbers
        ):
            raise ValueError("RetryPolicy values must be finite numbers.")
        if self.backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise ValueError("RetryPolicy delays must not be negative.")
        if self.max_backoff_seconds > MAX_BACKOFF_SECONDS:
            raise ValueError(
                f"RetryPolicy max_backoff_seconds must be at most {MAX_BACKOFF_SECONDS:.0f} (a year)."
            )
        if self.factor < 1:
            raise ValueError("RetryPolicy factor must be at least 1.")
        if not 0 <= self.jitter <= 1:
            raise ValueError("RetryPolicy jitter must be between 0 and 1.")
        if not self.retry_on or not all(
            isinstance(t, type) and issubclass(t, BaseException) for t in self.retry_on
        ):
            raise ValueError("RetryPolicy retry_on must be a tuple of exception classes.")
        if self.backoff is not None and not _importable(self.backoff):
            raise ValueError(
                f"RetryPolicy backoff must be a module-level function (the job stores its import path), "
                f"not {self.backoff!r}."
            )

    def delay_for(
        self,
        attempt: int,
        exc: BaseException,
        rand: Callable[[], float] = random.random,
    ) -> timedelta | None:
        """Return the wait before the attempt after ``attempt``, or None to give up."""
        if not isinstance(exc, self.retry_on):
            return None
        if self.backoff is not None:
            chosen = self.backoff(attempt, exc)
            if chosen is None:
                return None
            return timedelta(
                seconds=min(_seconds(chosen, "RetryPolicy backoff's result"), self.max_backoff_seconds)
            )
        try:
            growth = float(self.factor) ** (attempt - 1)
        except OverflowError:  # a late attempt of a steep policy: the cap applies
            growth = math.inf
        delay = min(self.max_backoff_seconds, self.backoff_seconds * growth if self.backoff_seconds else 0.0)
        return timedelta(seconds=delay * (1 - self.jitter * rand()))

    def to_json(self) -> dict[str, Any]:
        return {
            "backoff_seconds": self.backoff_seconds,
            "factor": self.factor,
            "max_backoff_seconds": self.max_backoff_seconds,
            "jitter": self.jitter,
            "retry_on": [_path(t) for t in self.retry_on],
            **({} if self.backoff is None else {"backoff": _path(self.backoff)}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RetryPolicy":
        return cls(
            backoff_seconds=data["backoff_seconds"],
            factor=data["factor"],
            max_backoff_seconds=data["max_backoff_seconds"],
            jitter=data["jitter"],
            retry_on=tuple(import_string(path) for path in data["retry_on"]),
            backoff=import_string(data["backoff"]) if "backoff" in data else None,
        )


def _importable(function: Any) -> bool:
    """Whether ``function`` is found again under its own module path (what a worker will import)."""
    try:
        return callable(function) and import_string(_path(function)) is function
    except (ImportError, AttributeError):
        return False
