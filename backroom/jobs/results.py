"""Build Django TaskResults from stored jobs: the one place that sets their frozen fields."""

from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from types import MemberDescriptorType
from typing import Any

from ..compat import Task, TaskError, TaskResult, TaskResultStatus
from .records import JobRecord, JobStatus

# Django has no CANCELLED: a cancelled job reads as FAILED, with the cancellation as its error.
_STATUS = {
    JobStatus.READY: TaskResultStatus.READY,
    JobStatus.RUNNING: TaskResultStatus.RUNNING,
    JobStatus.SUCCESSFUL: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.CANCELLED: TaskResultStatus.FAILED,
}


def task_result(record: JobRecord, task: Task, backend: str) -> TaskResult:
    """Return the TaskResult a stored job stands for."""
    errors = [
        TaskError(exception_class_path=e.exception_class_path, traceback=e.traceback) for e in record.errors
    ]
    status = _STATUS[record.status]
    result: TaskResult = TaskResult(
        task=task,
        id=record.id,
        status=status,
        enqueued_at=record.enqueued_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        last_attempted_at=record.last_attempted_at,
        args=record.args,
        kwargs=record.kwargs,
        backend=backend,
        errors=errors,
        worker_ids=list(record.worker_ids),
    )
    object.__setattr__(result, "_return_value", record.return_value)
    return result


def ready_results(
    task: Task,
    backend: str,
    ids: Sequence[str],
    calls: Sequence[tuple[Sequence[Any], dict[str, Any]]],
    enqueued_at: datetime,
) -> list[TaskResult]:
    """Return the TaskResults of jobs just stored, one per (args, kwargs) call, without reading them back.

    TaskResult's constructor normalizes the arguments to JSON types, which
    costs more than the rest of an enqueue. Arguments made of scalars only
    are normal already: their results are made without it, field by field.
    """
    shared: dict[str, Any] = {
        "task": task,
        "status": TaskResultStatus.READY,
        "enqueued_at": enqueued_at,
        "started_at": None,
        "finished_at": None,
        "last_attempted_at": None,
        "backend": backend,
    }
    fast = _FIELDS == _KNOWN_FIELDS  # else a TaskResult this function does not know: the constructor's way
    scalars, new = _SCALARS, object.__new__
    set_shared = [(_SET[name], value) for name, value in shared.items()]
    set_id, set_args, set_kwargs, set_errors, set_worker_ids, set_return_value = (
        _SET[name] for name in ("id", "args", "kwargs", "errors", "worker_ids", "_return_value")
    )
    results: list[TaskResult] = []
    for job_id, (args, kwargs) in zip(ids, calls, strict=True):
        if not (
            fast
            and (not args or all(type(value) in scalars for value in args))
            and (not kwargs or all(type(value) in scalars for value in kwargs.values()))
        ):
            results.append(
                TaskResult(id=job_id, args=list(args), kwargs=kwargs, errors=[], worker_ids=[], **shared)
            )
            continue
        result = new(TaskResult)
        for set_field, value in set_shared:
            set_field(result, value)
        set_id(result, job_id)
        set_args(result, list(args))
        set_kwargs(result, dict(kwargs))
        set_errors(result, [])
        set_worker_ids(result, [])
        set_return_value(result, None)
        results.append(result)
    return results


_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELDS = frozenset(f.name for f in fields(TaskResult))
_KNOWN_FIELDS = frozenset({
    "task", "id", "status", "enqueued_at", "started_at", "finished_at", "last_attempted_at",
    "args", "kwargs", "backend", "errors", "worker_ids", "_return_value",
})  # fmt: skip


def _setter(name: str) -> Callable[[TaskResult, Any], None]:
    """Set field ``name`` of a frozen TaskResult: by its slot where it has one (faster), else by its dict."""
    slot = vars(TaskResult).get(name)
    if isinstance(slot, MemberDescriptorType):
        return slot.__set__

    def set_field(result: TaskResult, value: Any) -> None:
        object.__setattr__(result, name, value)

    return set_field


_SET = {name: _setter(name) for name in _KNOWN_FIELDS}
