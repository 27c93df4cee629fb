"""Jobs to and from Redis hashes: every value a string, times in whole microseconds.

Microseconds since the epoch keep datetimes exact (a float timestamp would
not) and order correctly as sorted-set scores, which are exact up to 2**53.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ...serialization import loads
from ..base import JobRecord, NewJob

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(value: datetime) -> str:
    """Encode a datetime as whole microseconds since the epoch."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return str((value - EPOCH) // MICROSECOND)


def from_micros(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = EPOCH + int(value) * MICROSECOND
    return moment if settings.USE_TZ else timezone.make_naive(moment)


def new_job_fields(job: NewJob) -> dict[str, str]:
    """The hash of a job about to be stored; fields that are None are left out."""
    fields = {
        "id": job.id,
        "task_path": job.task_path,
        "queue_name": job.queue_name,
        "priority": str(job.priority),
        "status": "READY",
        "args": job.args,
        "kwargs": job.kwargs,
        "available_at": micros(job.available_at),
        "enqueued_at": micros(job.enqueued_at),
        "attempts": "0",
        "max_attempts": str(job.max_attempts),
        "retry": json.dumps(job.retry, separators=(",", ":")),
        "worker_ids": "[]",
        "errors": "[]",
    }
    if job.run_after is not None:
        fields["run_after"] = micros(job.run_after)
    if job.timeout_seconds is not None:
        fields["timeout_seconds"] = repr(float(job.timeout_seconds))
    if job.unique_key is not None:
        fields["unique_key"] = job.unique_key
    return fields


def as_mapping(flat: list[str]) -> dict[str, str]:
    """Turn a Lua script's HGETALL reply (name, value, name, value...) into a dict."""
    pairs = iter(flat)
    return dict(zip(pairs, pairs, strict=True))


def record(fields: Mapping[str, str]) -> JobRecord:
    """Read a job's hash back as a JobRecord."""
    timeout = fields.get("timeout_seconds")
    return JobRecord(
        id=fields["id"],
        task_path=fields["task_path"],
        queue_name=fields["queue_name"],
        priority=int(fields["priority"]),
        status=fields["status"],
        args=loads(fields["args"]),
        kwargs=loads(fields["kwargs"]),
        run_after=from_micros(fields.get("run_after")),
        available_at=from_micros(fields["available_at"]),  # type: ignore[arg-type]
        enqueued_at=from_micros(fields["enqueued_at"]),  # type: ignore[arg-type]
        started_at=from_micros(fields.get("started_at")),
        last_attempted_at=from_micros(fields.get("last_attempted_at")),
        finished_at=from_micros(fields.get("finished_at")),
        attempts=int(fields["attempts"]),
        max_attempts=int(fields["max_attempts"]),
        timeout_seconds=None if timeout is None else float(timeout),
        retry=loads(fields["retry"]),
        unique_key=fields.get("unique_key"),
        worker_id=fields.get("worker_id"),
        worker_ids=loads(fields["worker_ids"]),
        errors=loads(fields["errors"]),
        return_value=loads(fields.get("return_value")),
        progress=loads(fields.get("progress")),
    )
