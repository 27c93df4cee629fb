"""What a schedule is: a task, when to enqueue it, and what to do about missed slots."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    """Where a schedule comes from (see ``registry`` and ``stored``)."""

    BACKROOM = "backroom"  # backroom's own maintenance schedule
    CODE = "code"
    SETTINGS = "settings"
    DATABASE = "database"


class Missed(StrEnum):
    """What a scheduler does with slots that passed while no scheduler ran."""

    LATEST = "latest"  # run once, for the latest due slot
    SKIP = "skip"  # run none of them; slots still on time run
    ALL = "all"  # run each of them, the latest ``missed_limit`` at most


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A task enqueued once per slot of a cron expression or of a fixed interval.

    Values are checked by ``registry.problems()``, which Django's system checks
    report, rather than here: a bad schedule in settings must not stop Django
    from starting and saying what is wrong.
    """

    name: str
    task: str  # the dotted path of a @task
    cron: str | None = None
    interval: timedelta | None = None
    timezone: str | None = None  # IANA name; None: settings.TIME_ZONE
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    queue_name: str | None = None  # None: the task's own
    priority: int | None = None  # None: the task's own
    backend: str | None = None  # None: the task's own
    missed: str = Missed.LATEST
    missed_limit: int = 100
    origin: str = field(default="", compare=False)  # where it was declared, naming it, for messages
    source: str = field(default=Source.CODE, compare=False)

    @property
    def every(self) -> str:
        """How often it runs, as a person reads it."""
        if self.cron is not None:
            return f"cron {self.cron}"
        seconds = self.interval.total_seconds() if self.interval is not None else 0
        return f"every {seconds:g}s"
