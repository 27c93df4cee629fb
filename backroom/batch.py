"""Enqueue many calls of one task in one go."""

from collections.abc import Iterable
from typing import Any

from .compat import Task, TaskResult


def enqueue_many(task: Task, calls: Iterable[tuple[Any, Any]]) -> list[TaskResult]:
    """Enqueue one job of ``task`` per ``(args, kwargs)`` call; return their results in call order.

    backroom's backends check every call before storing any, then store them
    together: on a database, atomically and inside the caller's transaction.
    Other backends get one ``enqueue()`` per call.
    """
    backend = task.get_backend()
    many = getattr(backend, "enqueue_many", None)
    if many is not None:
        return many(task, calls)  # type: ignore[no-any-return]
    return [task.enqueue(*args, **kwargs) for args, kwargs in calls]
