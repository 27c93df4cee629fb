"""What the status endpoint tells an end user about a job: one function for JSON and SSE alike."""

from datetime import datetime
from typing import Any

from ..jobs.records import JobRecord, JobStatus


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def is_due(record: JobRecord, now: datetime) -> bool:
    """Whether the job waits for nothing but a worker: READY, and its time has come."""
    return record.status == JobStatus.READY and record.available_at <= now


def status_payload(
    record: JobRecord, *, now: datetime, expose_return_value: bool, no_worker: bool
) -> dict[str, Any]:
    """Describe a job for its end user: never its arguments, errors or tracebacks.

    ``retry_at`` is set while a failed attempt waits for the next one;
    ``no_worker`` says the caller found the job due (``is_due``) and no live
    worker serving its queue;
    ``return_value`` is present only when the token allows it and the job
    succeeded.
    """
    waiting_to_retry = record.status == JobStatus.READY and record.attempts > 0 and record.available_at > now
    payload: dict[str, Any] = {
        "status": record.status.value,
        "finished": record.status.is_finished,
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "retry_at": _iso(record.available_at) if waiting_to_retry else None,
        "no_worker": no_worker,
        "progress": record.progress,
        "enqueued_at": _iso(record.enqueued_at),
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
    }
    if expose_return_value and record.status == JobStatus.SUCCESSFUL:
        payload["return_value"] = record.return_value
    return payload
