"""Jobs and claims built by hand, for tests that drive the broker directly."""

import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from backroom import RetryPolicy
from backroom.brokers.base import NewJob, Outcome


def new_job(
    *,
    queue: str = "default",
    priority: int = 0,
    available_at: datetime | None = None,
    max_attempts: int = 3,
    unique_key: str | None = None,
) -> NewJob:
    """A job as a backend would build it, due at ``available_at`` (default: now)."""
    now = timezone.now()
    available_at = available_at or now
    return NewJob(
        id=str(uuid.uuid4()), task_path="tests.tasks.noop", queue_name=queue, priority=priority,
        args="[]", kwargs="{}", run_after=available_at if available_at > now else None,
        available_at=available_at, enqueued_at=min(now, available_at), max_attempts=max_attempts,
        timeout_seconds=None, retry=RetryPolicy().to_json(), unique_key=unique_key,
    )  # fmt: skip


def ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def later(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)


def succeeded(job_id: str, attempt: int, at: datetime) -> Outcome:
    return Outcome(job_id=job_id, attempt=attempt, status="SUCCESSFUL", finished_at=at, return_value="null")
