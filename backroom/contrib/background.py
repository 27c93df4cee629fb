"""django-background-tasks' ``@background`` on backroom: calling the function enqueues it.

The decorated name is a backroom ``Task`` (a ``BackgroundTask``) under the
function's own import path, so a worker finds it as it finds any ``@task``.
Calling it enqueues the call ``schedule`` later; ``.now(...)`` runs the
function in place. What django-background-tasks offers and backroom does not
(``repeat``, ``verbose_name``...) is refused by name, never dropped.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_PRIORITY, DEFAULT_TASK_QUEUE_NAME, TaskResult
from ..task import Task

#: A delay from the call, or a moment; None: at once.
When = timedelta | datetime | None

#: django-background-tasks' options with no equivalent here, and what to use instead.
REFUSED = {
    "name": "backroom names a task by its import path",
    "repeat": "declare a schedule instead (docs/schedules.md)",
    "repeat_until": "declare a schedule instead (docs/schedules.md)",
    "remove_existing_tasks": "use .using(unique_key=...) to keep one ready or running job per key",
    "verbose_name": "jobs are shown by their task path; pass what you need as an argument",
    "creator": "pass the creator's id as an argument",
}
#: The ones a call may name (any other keyword argument is the function's own).
REFUSED_IN_CALLS = REFUSED.keys() - {"name"}
#: The keys of a ``schedule`` dict; its ``action`` may only be TaskSchedule.SCHEDULE (0).
SCHEDULE_KEYS = {"run_at", "priority", "action"}


def _refuse(names: Iterable[str], where: str) -> None:
    """Raise TypeError naming ``names`` and what to do instead, if there are any."""
    named = sorted(names)
    if named:
        hints = "; ".join(f"{name}: {REFUSED.get(name, 'not an option of @background')}" for name in named)
        raise TypeError(f"{where} got option(s) backroom does not support: {hints}.")


def _when(value: Any) -> When:
    """A ``run_at``: seconds or a timedelta from the call, or a datetime."""
    if value is None or isinstance(value, (timedelta, datetime)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise TypeError(f"schedule must be seconds, a timedelta, a datetime or a dict, not {value!r}.")


def parse_schedule(schedule: Any) -> tuple[When, int | None]:
    """(when, priority) of a ``schedule``: seconds, a timedelta, a datetime, or a dict of those keys."""
    if not isinstance(schedule, dict):
        return _when(schedule), None
    unknown = schedule.keys() - SCHEDULE_KEYS
    if unknown or schedule.get("action", 0) != 0:
        raise TypeError(
            f"schedule takes run_at and priority, not {sorted(unknown) or ['action']}: to keep one ready "
            "or running job per key, use .using(unique_key=...)."
        )
    return _when(schedule.get("run_at")), schedule.get("priority")


@dataclass(frozen=True, slots=True, kw_only=True)
class BackgroundTask(Task):
    """A Task that enqueues itself when called, as django-background-tasks' functions do."""

    schedule: When = None

    def __call__(self, *args: Any, **kwargs: Any) -> TaskResult:
        """Enqueue a call; the keyword arguments ``schedule``, ``priority`` and ``queue`` are options."""
        _refuse(kwargs.keys() & REFUSED_IN_CALLS, f"{self.name}()")
        when, priority = parse_schedule(kwargs.pop("schedule", None))
        when = self.schedule if when is None else when
        task = self.using(
            run_after=timezone.now() + when if isinstance(when, timedelta) else when,
            priority=kwargs.pop("priority", priority),
            queue_name=kwargs.pop("queue", None),
        )
        return task.enqueue(*args, **kwargs)

    def now(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function here and now."""
        return self.call(*args, **kwargs)


def background(
    function: Callable[..., Any] | None = None,
    /,
    *,
    schedule: Any = None,
    queue: str | None = None,
    **others: Any,
) -> Any:
    """django-background-tasks' decorator: ``@background`` or ``@background(schedule=60, queue="q")``."""
    if function is not None and not callable(function):
        _refuse(["name"], "background()")
    _refuse(others, "background()")
    when, priority = parse_schedule(schedule)

    def wrapper(func: Callable[..., Any]) -> BackgroundTask:
        return BackgroundTask(
            func=func,
            priority=DEFAULT_TASK_PRIORITY if priority is None else priority,
            queue_name=queue or DEFAULT_TASK_QUEUE_NAME,
            backend=DEFAULT_TASK_BACKEND_ALIAS,
            run_after=None,  # Django 6.0's Task has no default for it
            schedule=when,
        )

    return wrapper(function) if function is not None else wrapper
