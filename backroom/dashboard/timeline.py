"""A job's history as a list of events, from its record alone."""

from dataclasses import dataclass
from datetime import datetime

from ..jobs.records import ErrorRecord, JobRecord, JobStatus

#: The most attempts one timeline shows (the latest ones).
ATTEMPTS_SHOWN = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    at: datetime | None  # None: the store did not record when
    what: str
    attempt: int | None = None
    worker_id: str | None = None
    css_class: str = ""


def _attempt_start(job: JobRecord, attempt: int, error: ErrorRecord | None) -> datetime | None:
    if error is not None and error.started_at is not None:
        return error.started_at
    if attempt == 1 and job.started_at is not None:
        return job.started_at
    return job.last_attempted_at if attempt == job.attempts else None


def timeline(job: JobRecord) -> list[Event]:
    """Enqueued, then each attempt's start and end with its worker, then a cancellation if any."""
    errors = {e.attempt: e for e in job.errors if e.attempt is not None}
    events = [Event(at=job.enqueued_at, what=f"enqueued on queue {job.queue_name}")]
    if job.run_after is not None:
        events.append(Event(at=job.run_after, what="due (run_after)"))
    # Only attempts something is known of: a stored count (edited to two billion, say) costs nothing.
    known = {a for a in errors if 1 <= a <= job.attempts} | set(
        range(1, min(len(job.worker_ids), job.attempts) + 1)
    )
    if job.attempts >= 1:
        known.add(job.attempts)
    shown = sorted(known)[-ATTEMPTS_SHOWN:]
    if len(known) > len(shown):
        events.append(Event(at=None, what=f"{len(known) - len(shown)} earlier attempts not shown"))
    for attempt in shown:
        error = errors.get(attempt)
        worker = job.worker_ids[attempt - 1] if attempt <= len(job.worker_ids) else None
        events.append(
            Event(at=_attempt_start(job, attempt, error), what="started", attempt=attempt, worker_id=worker)
        )
        if error is not None:
            events.append(
                Event(at=error.at, what=f"failed: {error.exception_name}", attempt=attempt, css_class="bad")
            )
        elif attempt == job.attempts and job.status == JobStatus.SUCCESSFUL:
            events.append(Event(at=job.finished_at, what="succeeded", attempt=attempt, css_class="ok"))
        elif attempt == job.attempts and job.status == JobStatus.RUNNING:
            events.append(Event(at=None, what="running now", attempt=attempt, worker_id=job.worker_id))
    for error in job.errors:
        if error.cancelled_by:
            events.append(Event(at=error.at, what=f"cancelled by {error.cancelled_by}", css_class="bad"))
    if job.status == JobStatus.READY and job.attempts:
        events.append(Event(at=job.available_at, what="next attempt due"))
    return events
