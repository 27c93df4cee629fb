"""Values to and from a database's columns: job rows, ids and times.

``job_from_row`` is the only reader of a stored job row; it hands the raw
values to the shared defensive codec.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ...jobs.records import JobLimits, JobRecord
from ..codec import decode_job
from .statements import JOB_COLUMNS


def waiting_until() -> datetime:
    """The available_at of a job waiting for its parents: past every claim, until a parent releases it."""
    return datetime(9999, 12, 31, tzinfo=UTC if settings.USE_TZ else None)


def job_id(value: Any) -> str:
    """A stored id (a uuid, or its 32 hex digits) as the canonical text the rest of backroom uses."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def db_id(connection: BaseDatabaseWrapper, value: str) -> str:
    """An id as the column stores it; ValueError if it is not a UUID."""
    parsed = uuid.UUID(value)
    return str(parsed) if connection.features.has_native_uuid_field else parsed.hex


def db_ids(connection: BaseDatabaseWrapper, ids: Sequence[str]) -> list[str]:
    """New ids (made by backroom, so well formed) as the column stores them, without parsing them."""
    if connection.features.has_native_uuid_field:
        return list(ids)
    return [value.replace("-", "") for value in ids]


def limit_columns(limits: JobLimits | None) -> tuple[str | None, int | None, str | None]:
    """A job's limits as its limit_key, concurrency_limit and rate_limit columns."""
    if limits is None:
        return None, None, None
    return limits.key, limits.concurrency, limits.rate


def db_time(connection: BaseDatabaseWrapper, value: datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def to_datetime(value: Any) -> datetime | None:
    """A time as a database returns it (a datetime, or text on SQLite), aware when USE_TZ is on."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime):
        return None
    if settings.USE_TZ and timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def job_from_row(row: Sequence[Any]) -> JobRecord:
    """Read a row of ``JOB_COLUMNS`` as a JobRecord, whatever it holds."""
    raw = dict(zip(JOB_COLUMNS, row, strict=True))
    try:
        raw["id"] = job_id(raw["id"])
    except (TypeError, ValueError):
        raw["id"] = str(raw["id"])
    return decode_job(raw, to_datetime)
