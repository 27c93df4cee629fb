"""Celery's ``apply_async`` on a backroom Task: Django's ``.using(...).enqueue(...)`` under Celery's names.

The options that mean the same thing here are mapped; every other one is
refused by name, because dropping ``link`` or ``time_limit`` in silence would
change what the caller's code does without telling anyone.
"""

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .compat import TaskResult

if TYPE_CHECKING:  # backroom.task imports this module
    from .task import Task

#: The options of Celery's apply_async that mean the same thing in backroom.
ACCEPTED = ("countdown", "eta", "queue", "priority", "expires")

#: What to do instead, for the refused options people use most.
INSTEAD = {
    "link": "use backroom.chain(backroom.call(task, ...), ...).enqueue() (docs/workflows.md)",
    "link_error": "use on_failure=backroom.call(...) of backroom.chain or backroom.group",
    "retry": "Celery's retries of sending; backroom's enqueue is one write that raises on failure",
    "retry_policy": "Celery's retries of sending; backroom's enqueue is one write that raises on failure",
    "time_limit": "use .using(timeout=seconds)",
    "soft_time_limit": "use .using(timeout=seconds)",
    "task_id": "each job gets its id from the store: TaskResult.id",
    "ignore_result": "every job keeps its result until pruned (docs/schedules.md)",
}


def apply_async(
    task: "Task", args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, options: Mapping[str, Any]
) -> TaskResult:
    """Enqueue ``task(*args, **kwargs)`` with Celery's options that have a meaning here (``ACCEPTED``).

    ``expires`` (seconds from now, or a datetime) becomes ``.using(expires=...)``.
    """
    refused = sorted(set(options) - set(ACCEPTED))
    if refused:
        hints = "".join(f" {name}: {INSTEAD[name]}." for name in refused if name in INSTEAD)
        raise TypeError(
            f"apply_async() got option(s) with no meaning in backroom: {', '.join(refused)}. "
            f"It takes args, kwargs, {', '.join(ACCEPTED)}.{hints}"
        )
    if args is not None and not isinstance(args, (list, tuple)):
        raise TypeError(f"apply_async() args must be a list or a tuple, not {type(args).__name__}.")
    countdown, eta = options.get("countdown"), options.get("eta")
    if countdown is not None and eta is not None:
        raise TypeError("apply_async() takes countdown or eta, not both.")
    if countdown is not None:
        if isinstance(countdown, bool) or not isinstance(countdown, (int, float)):
            raise TypeError(f"apply_async() countdown must be seconds (a number), not {countdown!r}.")
        eta = timezone.now() + timedelta(seconds=countdown)
    configured = task.using(  # options left None keep the task's own; expires is checked like the others
        run_after=eta,
        queue_name=options.get("queue"),
        priority=options.get("priority"),
        expires=options.get("expires"),
    )
    return configured.enqueue(*(args or ()), **(kwargs or {}))
