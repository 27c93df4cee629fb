"""What code can do with jobs beyond Django's Task API: enqueue many at once, and cancel."""

from collections.abc import Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.utils import timezone

from .backends.base import BackroomBackend
from .backends.stores import store_for
from .brokers.contract import Cancelled
from .compat import DEFAULT_TASK_BACKEND_ALIAS, Task, TaskResult


def enqueue_many(task: Task, calls: Iterable[tuple[Any, Any]]) -> list[TaskResult]:
    """Enqueue one job of ``task`` per ``(args, kwargs)`` call; return their results in call order.

    backroom's backends check every call before storing any, then store them
    together: on a database, atomically and inside the caller's transaction.
    Other backends get one ``enqueue()`` per call.
    """
    backend = task.get_backend()
    if isinstance(backend, BackroomBackend):
        return backend.enqueue_many(task, calls)
    return [task.enqueue(*args, **kwargs) for args, kwargs in calls]


async def aenqueue_many(task: Task, calls: Iterable[tuple[Any, Any]]) -> list[TaskResult]:
    """``enqueue_many`` for async code."""
    return await sync_to_async(enqueue_many)(task, list(calls))


def cancel(
    result: TaskResult | str, *, backend: str | None = None, by: str = "backroom.cancel()"
) -> Cancelled:
    """Cancel a job: a READY one never runs, a RUNNING one is asked to stop.

    ``result`` is a TaskResult or a job id (of ``backend``, the default
    backend unless named). The job ends CANCELLED when its task raises
    ``JobCancelled`` or returns after ``context.is_cancel_requested()`` said
    yes. Returns what was done (``Cancelled.CANCELLED``, ``REQUESTED``, or
    ``FINISHED``/``UNKNOWN`` when there was nothing to cancel).
    """
    if isinstance(result, TaskResult):
        job_id, alias = result.id, backend or result.backend
    else:
        job_id, alias = result, backend or DEFAULT_TASK_BACKEND_ALIAS
    return store_for(alias).inspector.cancel(job_id, timezone.now(), by=by)


async def acancel(
    result: TaskResult | str, *, backend: str | None = None, by: str = "backroom.acancel()"
) -> Cancelled:
    """``cancel`` for async code."""
    return await sync_to_async(cancel)(result, backend=backend, by=by)
