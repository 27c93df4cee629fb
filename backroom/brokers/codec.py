"""The one reader of a stored job: raw field values in, a JobRecord out, whatever they hold.

backroom writes every field itself, so a value of the wrong shape means
someone edited the job by hand (or an older version wrote it). Such a field
reads as a harmless placeholder and the problem is named in
``JobRecord.defect``: the worker fails the job with ``CorruptJob`` naming the
field, readers show it failed, and nothing above the store ever crashes on
it. Each store's own codec turns its representation (a row, a hash) into
the raw mapping read here.
"""

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..exceptions import CorruptJob
from ..jobs.links import Links
from ..jobs.records import ErrorRecord, JobLimits, JobRecord, JobStatus, error_path

#: Stands in for a required time that cannot be read.
PLACEHOLDER_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_DIGITS = re.compile(r"-?[0-9]+")
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


def whole_number(value: Any) -> int | None:
    """A stored count: an int, or text of decimal digits (Redis's scripts read it alike); else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


def _describe(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "a number")


class _Reader:
    """Reads fields one by one, collecting what is wrong instead of raising."""

    def __init__(self, raw: Mapping[str, Any], to_datetime: Callable[[Any], datetime | None]) -> None:
        self.raw = raw
        self.to_datetime = to_datetime
        self.problems: list[str] = []

    def text(self, name: str, *, optional: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None and optional:
            return None
        if isinstance(value, str) and (value or optional):
            return value
        self.problems.append(f"{name} is missing" if value is None else f"{name} is not text")
        return None if optional else ""

    def integer(self, name: str, default: int, low: int, high: int, *, missing_ok: bool = False) -> int:
        value = self.raw.get(name)
        if value is None and missing_ok:
            return default
        number = whole_number(value)
        if number is None or not low <= number <= high:
            self.problems.append(f"{name} is {value!r}, not a whole number from {low} to {high}")
        # A number out of range is kept: the worker's claim on the job is guarded by the stored value.
        return default if number is None else number

    def seconds(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not 0 < number < math.inf:
            self.problems.append(f"{name} is {value!r}, not a positive number of seconds")
            return None
        return number

    def moment(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name} is missing")
                return PLACEHOLDER_TIME
            return None
        try:
            moment = self.to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            moment = None
        if moment is None:
            self.problems.append(f"{name} is {value!r}, not a time")
            return PLACEHOLDER_TIME if required else None
        return moment

    def json(self, name: str, shape: type | None = None, default: Any = None) -> Any:
        text = self.raw.get(name)
        if text is None:
            value = None
        else:
            try:
                value = json.loads(text) if isinstance(text, (str, bytes)) else text
            except (ValueError, RecursionError) as exc:
                self.problems.append(f"{name} is not valid JSON ({str(exc)[:80]})")
                return default
        if shape is not None and not isinstance(value, shape):
            self.problems.append(f"{name} is {_describe(value)}, not {_JSON_TYPES[shape]}")
            return default
        return value

    def status(self) -> tuple[JobStatus, ErrorRecord | None]:
        """The status, or FAILED with an error saying why when it is not one (no worker runs such a job)."""
        value = self.raw.get("status")
        try:
            return JobStatus(str(value)), None
        except ValueError:
            problem = (
                f"status {value!r} is not a backroom status ({', '.join(JobStatus)}); no worker will run it"
            )
            self.problems.append(problem)
            path = error_path(CorruptJob)
            return JobStatus.FAILED, ErrorRecord(exception_class_path=path, traceback=f"{path}: {problem}\n")

    def errors(self) -> list[ErrorRecord]:
        entries = self.json("errors", list, [])
        found = [record for entry in entries if (record := self._error(entry)) is not None]
        if len(found) < len(entries):
            self.problems.append("errors holds entries that are not error records")
        return found

    def _error(self, entry: Any) -> ErrorRecord | None:
        if not isinstance(entry, dict):
            return None
        path, trace = entry.get("exception_class_path"), entry.get("traceback")
        if not isinstance(path, str) or not isinstance(trace, str):
            return None
        attempt, worker = entry.get("attempt"), entry.get("worker_id")
        cancelled_by = entry.get("cancelled_by")
        return ErrorRecord(
            exception_class_path=path,
            traceback=trace,
            attempt=attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None,
            worker_id=worker if isinstance(worker, str) else None,
            started_at=_iso(entry.get("started_at")),
            at=_iso(entry.get("at")),
            cancelled_by=cancelled_by if isinstance(cancelled_by, str) else None,
        )

    def worker_ids(self) -> list[str]:
        entries = self.json("worker_ids", list, [])
        found = [entry for entry in entries if isinstance(entry, str)]
        if len(found) < len(entries):
            self.problems.append("worker_ids holds entries that are not worker ids")
        return found

    def links(self) -> Links | None:
        value = self.json("links")
        if value is None:
            return None
        try:
            return Links.from_json(value)
        except (TypeError, ValueError) as exc:
            self.problems.append(f"links are not workflow links ({exc})")
            return None

    def limits(self) -> JobLimits | None:
        key = self.text("limit_key", optional=True)
        if key is None:
            return None
        concurrency = self.integer("concurrency_limit", 0, 0, 2**31 - 1, missing_ok=True)
        return JobLimits(
            key=key, concurrency=concurrency or None, rate=self.text("rate_limit", optional=True)
        )

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        return value in (True, 1, "1", "true", "t")


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def links_or_none(value: Any) -> Links | None:
    """A job's stored links (JSON text or decoded) as the reaper reads them; None for none or nonsense.

    Nonsense is named as the job's defect when a worker claims the job.
    """
    try:
        return (
            None
            if value in (None, "")
            else Links.from_json(json.loads(value) if isinstance(value, str) else value)
        )
    except (TypeError, ValueError):
        return None


def decode_job(raw: Mapping[str, Any], to_datetime: Callable[[Any], datetime | None]) -> JobRecord:
    """Build the JobRecord of a stored job from its raw fields; never raises for what they hold.

    JSON fields are text (or already-decoded values); ``to_datetime`` reads the
    store's representation of a time and returns None (or raises ValueError)
    when it cannot.
    """
    read = _Reader(raw, to_datetime)
    status, status_error = read.status()
    record = JobRecord(
        id=read.text("id") or "",
        task_path=read.text("task_path") or "",
        queue_name=read.text("queue_name") or "",
        priority=read.integer("priority", 0, -100, 100),
        status=status,
        args=read.json("args", list, []),
        kwargs=read.json("kwargs", dict, {}),
        run_after=read.moment("run_after"),
        available_at=read.moment("available_at", required=True) or PLACEHOLDER_TIME,
        enqueued_at=read.moment("enqueued_at", required=True) or PLACEHOLDER_TIME,
        started_at=read.moment("started_at"),
        last_attempted_at=read.moment("last_attempted_at"),
        finished_at=read.moment("finished_at"),
        attempts=read.integer("attempts", 0, 0, 2**31 - 1),
        max_attempts=read.integer("max_attempts", 1, 1, 2**31 - 1),
        timeout_seconds=read.seconds("timeout_seconds"),
        retry=read.json("retry", dict, {}),
        unique_key=read.text("unique_key", optional=True),
        worker_id=read.text("worker_id", optional=True),
        worker_ids=read.worker_ids(),
        errors=read.errors() + ([status_error] if status_error else []),
        return_value=read.json("return_value"),
        progress=read.json("progress"),
        cancel_requested=read.flag("cancel_requested"),
        orphaned=read.integer("orphaned", 0, 0, 2**31 - 1, missing_ok=True),
        defect=None,
        expires_at=read.moment("expires_at"),
        links=read.links(),
        waiting_for=read.integer("waiting_for", 0, 0, 2**31 - 1, missing_ok=True),
        limits=read.limits(),
    )
    return record.evolve(defect="; ".join(read.problems)) if read.problems else record
