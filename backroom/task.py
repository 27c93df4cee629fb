"""backroom's Task: Django's Task plus attempts, retry, timeout, unique key, expiry, limits; its decorator.

Its ``delay`` and ``apply_async`` are Celery's names for ``enqueue`` and ``using(...).enqueue``.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.utils.module_loading import import_string

from . import celery_style, compat
from .exceptions import UnknownTask
from .jobs.records import JobRecord
from .retry import RetryPolicy

#: The options backroom adds to Django's Task.
OPTIONS = (
    "max_attempts", "retry", "timeout", "unique_key", "expires",
    "concurrency_limit", "rate_limit", "limit_key",
)  # fmt: skip


class OptionsIgnored(UserWarning):
    """backroom's task options were given to a backend that does not use them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Task(compat.Task):
    """A Django Task with backroom's execution options.

    Options left at None take the backend's defaults from ``OPTIONS``.
    """

    max_attempts: int | None = None
    retry: RetryPolicy | None = None
    timeout: float | timedelta | None = None
    unique_key: str | None = None
    #: Not started by then (seconds or a timedelta from enqueue, or an aware datetime): CANCELLED, never run.
    expires: float | timedelta | datetime | None = None
    #: At most this many of the task's jobs (per ``limit_key``) run at once, across every worker.
    concurrency_limit: int | None = None
    #: At most so many starts per second, minute or hour ("14/s", "100/m", "5/h"), across every worker.
    rate_limit: str | None = None
    #: Limits count per key: ``.using(limit_key=f"account:{account.id}")``.
    limit_key: str | None = None

    def using(
        self,
        *,
        priority: int | None = None,
        queue_name: str | None = None,
        run_after: datetime | None = None,
        backend: str | None = None,
        max_attempts: int | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | timedelta | None = None,
        unique_key: str | None = None,
        expires: float | timedelta | datetime | None = None,
        concurrency_limit: int | None = None,
        rate_limit: str | None = None,
        limit_key: str | None = None,
    ) -> "Task":
        """Create a new Task with modified defaults, backroom's options included."""
        options = {
            "priority": priority,
            "queue_name": queue_name,
            "run_after": run_after,
            "backend": backend,
            "max_attempts": max_attempts,
            "retry": retry,
            "timeout": timeout,
            "unique_key": unique_key,
            "expires": expires,
            "concurrency_limit": concurrency_limit,
            "rate_limit": rate_limit,
            "limit_key": limit_key,
        }
        changes = {name: value for name, value in options.items() if value is not None}
        return replace(self, **changes)  # type: ignore[arg-type]

    def delay(self, *args: Any, **kwargs: Any) -> compat.TaskResult:
        """Celery's name for ``enqueue``."""
        return self.enqueue(*args, **kwargs)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> compat.TaskResult:
        """Celery's ``apply_async``: ``using(...)`` under Celery's option names, then ``enqueue``.

        ``countdown`` (seconds) or ``eta`` set ``run_after``, ``queue`` the
        queue name, ``priority`` Django's priority, ``expires`` (seconds or a
        datetime) the expiry; any other option raises
        TypeError naming it (see docs/migrating.md).
        """
        return celery_style.apply_async(self, args, kwargs, options)


#: Backend aliases already warned about ignoring backroom's options.
_warned_backends: set[str] = set()


def task(
    function: Callable[..., Any] | None = None,
    *,
    priority: int = compat.DEFAULT_TASK_PRIORITY,
    queue_name: str = compat.DEFAULT_TASK_QUEUE_NAME,
    backend: str = compat.DEFAULT_TASK_BACKEND_ALIAS,
    takes_context: bool = False,
    max_attempts: int | None = None,
    retry: RetryPolicy | None = None,
    timeout: float | timedelta | None = None,
    unique_key: str | None = None,
    expires: float | timedelta | datetime | None = None,
    concurrency_limit: int | None = None,
    rate_limit: str | None = None,
    limit_key: str | None = None,
) -> Any:
    """Django's ``@task``, with backroom's options, on every Django backroom supports and every backend.

    On a backend that is not backroom's (``ImmediateBackend`` in tests, say)
    the options are accepted and ignored, with one ``OptionsIgnored`` warning
    per backend alias and process: a test suite's tasks module imports cleanly.
    """
    options: dict[str, Any] = {
        "max_attempts": max_attempts,
        "retry": retry,
        "timeout": timeout,
        "unique_key": unique_key,
        "expires": expires,
        "concurrency_limit": concurrency_limit,
        "rate_limit": rate_limit,
        "limit_key": limit_key,
    }
    given = {name: value for name, value in options.items() if value is not None}

    def wrapper(func: Callable[..., Any]) -> Task:
        django_backend = compat.task_backends[backend]
        task_class = django_backend.task_class
        if not (isinstance(task_class, type) and issubclass(task_class, Task)):
            if given and backend not in _warned_backends:
                _warned_backends.add(backend)
                warnings.warn(
                    f"TASKS[{backend!r}] is {type(django_backend).__name__}, which ignores backroom's "
                    f"task options ({', '.join(given)} of {func.__module__}.{func.__qualname__}, and those "
                    "of any other task on it): they apply on backroom's backends.",
                    OptionsIgnored,
                    stacklevel=2 if function is None else 3,  # the line that declares the task
                )
            task_class = Task
        return task_class(
            func=func,
            priority=priority,
            queue_name=queue_name,
            backend=backend,
            run_after=None,  # Django 6.0's Task has no default for it
            takes_context=takes_context,
            **given,
        )

    return wrapper(function) if function is not None else wrapper


def load_task(path: str) -> compat.Task:
    """Import the Task a job names; anything that is not a Task is refused."""
    try:
        found: Any = import_string(path)
    except ImportError as exc:
        raise UnknownTask(f"Task {path!r} cannot be imported: {exc}") from exc
    if not isinstance(found, compat.Task):
        raise UnknownTask(
            f"{path!r} is a {type(found).__name__}, not a Task: only functions decorated "
            "with @task can be run."
        )
    if found.module_path != path:
        raise UnknownTask(f"{path!r} refers to the task {found.module_path!r} under another name.")
    return found


def task_for(record: JobRecord, alias: str) -> compat.Task:
    """The Task a stored job runs, with the queue, priority and delay it was enqueued with, on ``alias``."""
    found = load_task(record.task_path)
    stored = (record.priority, record.queue_name, record.run_after, alias)
    if (found.priority, found.queue_name, found.run_after, found.backend) == stored:
        return found
    return found.using(
        priority=record.priority, queue_name=record.queue_name, run_after=record.run_after, backend=alias
    )
