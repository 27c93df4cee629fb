"""Retry policies: when a failed attempt is tried again, and after how long."""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils.module_loading import import_string

from .exceptions import JobTimeout

#: The longest wait a policy may ask for: later retries would be stored past any useful date.
MAX_BACKOFF_SECONDS = 366 * 24 * 3600.0


def _path(exc_type: type[BaseException]) -> str:
    return f"{exc_type.__module__}.{exc_type.__qualname__}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    The delay after failed attempt n is ``backoff_seconds * factor ** (n - 1)``,
    capped at ``max_backoff_seconds``, then shortened by a random fraction of
    up to ``jitter`` so that jobs that failed together do not retry together.
    Only exceptions that are instances of ``retry_on`` lead to another attempt.
    """

    backoff_seconds: float = 1.0
    factor: float = 2.0
    max_backoff_seconds: float = 3600.0
    jitter: float = 0.25
    retry_on: tuple[type[BaseException], ...] = field(default=(Exception, JobTimeout))

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

    def delay_for(
        self,
        attempt: int,
        exc: BaseException,
        rand: Callable[[], float] = random.random,
    ) -> timedelta | None:
        """Return the wait before the attempt after ``attempt``, or None to give up."""
        if not isinstance(exc, self.retry_on):
            return None
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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RetryPolicy":
        return cls(
            backoff_seconds=data["backoff_seconds"],
            factor=data["factor"],
            max_backoff_seconds=data["max_backoff_seconds"],
            jitter=data["jitter"],
            retry_on=tuple(import_string(path) for path in data["retry_on"]),
        )
