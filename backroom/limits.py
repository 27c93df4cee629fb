"""What a global limit is: a rate ("14/s"), a queue's limits, and the key jobs are limited by.

The stores enforce limits in their claim (docs/limits.md); this module only
reads and checks what users write, so that a task option and
``OPTIONS["QUEUE_LIMITS"]`` mean the same thing and fail the same way.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Seconds per unit of a rate.
PERIODS = {"s": 1, "m": 60, "h": 3600}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(s|m|h)\s*")
#: The longest key ``.using(limit_key=...)`` takes.
MAX_LIMIT_KEY = 100
#: The most jobs a concurrency limit may allow (what every store's integer column holds).
MAX_CONCURRENCY = 2**31 - 1
#: While a concurrency limit is full, how soon a worker holding nothing of it claims again.
RECHECK_SECONDS = 0.1
#: How a queue's limits are named in the stores, beside tasks' keys (a task path has no colon).
QUEUE_GROUP = "queue:"


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` starts per ``period_seconds``, spaced evenly: one every ``spacing_seconds``."""

    count: int
    period_seconds: int

    @property
    def spacing_seconds(self) -> float:
        return self.period_seconds / self.count

    def stored(self) -> str:
        """How a job carries it: "count/seconds" (what the stores' claims read)."""
        return f"{self.count}/{self.period_seconds}"


def parse_rate(text: str) -> Rate:
    """Read "14/s", "100/m" or "5/h"; ValueError says what a rate looks like."""
    found = _RATE.fullmatch(text) if isinstance(text, str) else None
    if found is None or int(found.group(1)) < 1:
        raise ValueError('must be a count of at least 1 per s, m or h, such as "14/s", "100/m" or "5/h"')
    return Rate(int(found.group(1)), PERIODS[found.group(2)])


def rate_problem(value: Any) -> str | None:
    try:
        parse_rate(value)
    except ValueError as exc:
        return str(exc)
    return None


def concurrency_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        return "must be a whole number of at least 1"
    return None


def limit_key_problem(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_LIMIT_KEY:
        return None
    return f"must be a string of 1 to {MAX_LIMIT_KEY} characters"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLimit:
    """``OPTIONS["QUEUE_LIMITS"][queue]``: every job of the queue counts, whatever its task."""

    concurrency: int | None = None
    rate: Rate | None = None


def read_queue_limits(value: Any) -> tuple[dict[str, QueueLimit], str | None]:
    """Read ``{"emails": {"concurrency": 5, "rate": "100/m"}}``; return the limits, or what is wrong."""
    shape = 'must map queue names to {"concurrency": N, "rate": "N/s|m|h"}'
    if not isinstance(value, Mapping):
        return {}, shape
    limits = {}
    for queue, given in value.items():
        if not isinstance(queue, str) or not isinstance(given, Mapping) or not given:
            return {}, f"{shape}; {queue!r} maps to {given!r}"
        unknown = set(given) - {"concurrency", "rate"}
        if unknown:
            return {}, f"{shape}; {queue!r} has {', '.join(map(repr, sorted(unknown, key=str)))}"
        concurrency, rate = given.get("concurrency"), given.get("rate")
        if concurrency is not None and (problem := concurrency_problem(concurrency)):
            return {}, f"[{queue!r}]['concurrency'] {problem} (got {concurrency!r})"
        if rate is not None and (problem := rate_problem(rate)):
            return {}, f"[{queue!r}]['rate'] {problem} (got {rate!r})"
        limits[queue] = QueueLimit(concurrency=concurrency, rate=None if rate is None else parse_rate(rate))
    return limits, None


def stored_spacing(stored: str | None) -> float | None:
    """Seconds between starts of a rate as a job carries it ("count/seconds"); None if it holds none."""
    count, _, seconds = (stored or "").partition("/")
    if not (count.isdigit() and seconds.isdigit()) or int(count) < 1:
        return None
    return int(seconds) / int(count)


@dataclass(slots=True)
class Allowance:
    """How many more jobs one group may have claimed now, and what taking them does to its rate.

    The rate is spaced evenly, one start every ``spacing`` seconds at most (a
    token bucket of one token): a claim takes one job of a rate-limited
    group at a time, and the next may start ``spacing`` after it.
    """

    left: float  # math.inf: no bound
    spacing: float | None = None
    taken: int = 0

    def take(self) -> None:
        self.left -= 1
        self.taken += 1


def allowance(
    concurrency: int | None, held: int, spacing: float | None, next_start_in: float | None
) -> tuple[Allowance, float | None]:
    """A group's allowance, and in how many seconds to look again if it allows nothing now.

    ``held``: the group's jobs held or running now; ``next_start_in``: seconds
    until its rate allows the next start (None or <= 0: now).
    """
    left = math.inf if concurrency is None else max(0, concurrency - held)
    wait = None if left else RECHECK_SECONDS
    if spacing is not None:
        if next_start_in is not None and next_start_in > 0:
            left, wait = 0, max(wait or 0.0, next_start_in)
        else:
            left = min(left, 1)
    return Allowance(left=left, spacing=spacing), wait
