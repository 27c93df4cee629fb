"""backroom's Task: Django's Task plus attempts, retry policy, timeout and unique key."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.utils.module_loading import import_string

from . import compat
from .exceptions import UnknownTask
from .retry import RetryPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class Task(compat.Task):
    """A Django Task with backroom's execution options.

    Options left at None take the backend's defaults from ``OPTIONS``.
    """

    max_attempts: int | None = None
    retry: RetryPolicy | None = None
    timeout: float | timedelta | None = None
    unique_key: str | None = None

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
        }
        changes = {name: value for name, value in options.items() if value is not None}
        return replace(self, **changes)  # type: ignore[arg-type]


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
