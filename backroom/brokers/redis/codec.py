"""Jobs to and from Redis hashes: every value a string, times in whole microseconds.

Microseconds since the epoch keep datetimes exact (a float timestamp would
not) and order correctly as sorted-set scores, which are exact up to 2**53.
``job_from_hash`` is the only reader of a stored job hash.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ...jobs.json import dumps
from ...jobs.records import JobRecord, NewJob
from ..codec import decode_job

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(value: datetime) -> str:
    """Encode a datetime as whole microseconds since the epoch."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return str((value - EPOCH) // MICROSECOND)


def from_micros(value: str | None) -> datetime | None:
    """Read microseconds since the epoch; None for None, ValueError for what is not a number or no time."""
    if value is None:
        return None
    try:
        moment = EPOCH + int(value) * MICROSECOND
    except OverflowError:
        raise ValueError(f"{value!r} microseconds from 1970 is past any datetime") from None
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
        "retry": dumps(job.retry),
        "worker_ids": "[]",
        "errors": "[]",
    }
    if job.run_after is not None:
        fields["run_after"] = micros(job.run_after)
    if job.timeout_seconds is not None:
        fields["timeout_seconds"] = repr(float(job.timeout_seconds))
    if job.unique_key is not None:
        fields["unique_key"] = job.unique_key
    if job.expires_at is not None:
        fields["expires_at"] = micros(job.expires_at)
    if job.links is not None:
        fields["links"] = dumps(job.links.to_json())
        fields["waiting_for"] = str(job.links.waiting_for)
    if job.limits is not None:
        fields["limit_key"] = job.limits.key
        if job.limits.concurrency is not None:
            fields["concurrency_limit"] = str(job.limits.concurrency)
        if job.limits.rate is not None:
            fields["rate_limit"] = job.limits.rate
    return fields


def as_mapping(flat: list[str]) -> dict[str, str]:
    """Turn a Lua script's HGETALL reply (name, value, name, value...) into a dict."""
    pairs = iter(flat)
    return dict(zip(pairs, pairs, strict=False))


def job_from_hash(fields: Mapping[str, str]) -> JobRecord:
    """Read a job's hash as a JobRecord, whatever it holds."""
    return decode_job(fields, from_micros)
