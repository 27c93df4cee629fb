"""Build Django TaskResults from stored jobs: the one place that sets their frozen fields."""

from .brokers.base import JobRecord
from .compat import Task, TaskError, TaskResult, TaskResultStatus
from .exceptions import CorruptJob

# Django has no CANCELLED: a cancelled job reads as FAILED, with the cancellation as its error.
_STATUS = {
    "READY": TaskResultStatus.READY,
    "RUNNING": TaskResultStatus.RUNNING,
    "SUCCESSFUL": TaskResultStatus.SUCCESSFUL,
    "FAILED": TaskResultStatus.FAILED,
    "CANCELLED": TaskResultStatus.FAILED,
}


def task_result(record: JobRecord, task: Task, backend: str) -> TaskResult:
    """Return the TaskResult a stored job stands for."""
    errors = [
        TaskError(exception_class_path=e["exception_class_path"], traceback=e["traceback"])
        for e in record.errors
    ]
    status = _STATUS.get(record.status)
    if status is None:  # a status edited in by hand: no worker will touch the job
        status = TaskResultStatus.FAILED
        errors.append(
            TaskError(
                exception_class_path=f"{CorruptJob.__module__}.{CorruptJob.__qualname__}",
                traceback=f"CorruptJob: the stored status {record.status!r} is not a backroom status "
                f"({', '.join(_STATUS)}); no worker will run this job.\n",
            )
        )
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
