"""A job's history as a list of events, from its record alone."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from ..brokers.base import JobRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    at: datetime | None  # None: the store did not record when
    what: str
    attempt: int | None = None
    worker_id: str | None = None
    css_class: str = ""


def _moment(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _attempt_start(job: JobRecord, attempt: int, error: dict[str, Any] | None) -> datetime | None:
    if error is not None and (recorded := _moment(error.get("started_at"))):
        return recorded
    if attempt == 1 and job.started_at is not None:
        return job.started_at
    return job.last_attempted_at if attempt == job.attempts else None


def timeline(job: JobRecord) -> list[Event]:
    """Enqueued, then each attempt's start and end with its worker, then a cancellation if any."""
    errors = {e["attempt"]: e for e in job.errors if isinstance(e.get("attempt"), int)}
    events = [Event(at=job.enqueued_at, what=f"enqueued on queue {job.queue_name}")]
    if job.run_after is not None:
        events.append(Event(at=job.run_after, what="due (run_after)"))
    for attempt in range(1, job.attempts + 1):
        error = errors.get(attempt)
        worker = job.worker_ids[attempt - 1] if attempt <= len(job.worker_ids) else None
        events.append(
            Event(
                at=_attempt_start(job, attempt, error),
                what="started",
                attempt=attempt,
                worker_id=worker,
            )
        )
        if error is not None:
            name = str(error.get("exception_class_path", "error")).rsplit(".", 1)[-1]
            events.append(
                Event(at=_moment(error.get("at")), what=f"failed: {name}", attempt=attempt, css_class="bad")
            )
        elif attempt == job.attempts and job.status == "SUCCESSFUL":
            events.append(Event(at=job.finished_at, what="succeeded", attempt=attempt, css_class="ok"))
        elif attempt == job.attempts and job.status == "RUNNING":
            events.append(Event(at=None, what="running now", attempt=attempt, worker_id=job.worker_id))
    for error in job.errors:
        if error.get("cancelled_by"):
            events.append(
                Event(
                    at=_moment(error.get("at")), what=f"cancelled by {error['cancelled_by']}", css_class="bad"
                )
            )
    if job.status == "READY" and job.attempts:
        events.append(Event(at=job.available_at, what="next attempt due"))
    return events
