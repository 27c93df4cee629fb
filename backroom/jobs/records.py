"""The values that describe a job: its status, its stored record, a failed attempt, a new job.

Every part of backroom speaks of jobs in these types; each store turns its
own representation into them through its codec, and nowhere else.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .links import Links


class JobStatus(StrEnum):
    """Where a job stands. Django's TaskResult shows CANCELLED as FAILED, with the cancellation as error."""

    READY = "READY"  # waiting; also while a worker holds it claimed ahead, not yet started
    RUNNING = "RUNNING"  # its code has started, and it has not finished
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED

    @property
    def label(self) -> str:
        return self.value.capitalize()


ACTIVE = frozenset({JobStatus.READY, JobStatus.RUNNING})
FINISHED = frozenset({JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRecord:
    """One failed attempt (or a cancellation), as kept in a job's ``errors`` list."""

    exception_class_path: str
    traceback: str
    attempt: int | None = None  # None: not an attempt's failure (a cancellation before it ran)
    worker_id: str | None = None
    started_at: datetime | None = None  # when the failed attempt started
    at: datetime | None = None  # when it failed
    cancelled_by: str | None = None

    @property
    def exception_name(self) -> str:
        return self.exception_class_path.rsplit(".", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "exception_class_path": self.exception_class_path,
            "traceback": self.traceback,
            "attempt": self.attempt,
            "worker_id": self.worker_id,
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "at": None if self.at is None else self.at.isoformat(),
        }
        if self.cancelled_by is not None:
            data["cancelled_by"] = self.cancelled_by
        return data


def error_path(exc_type: type[BaseException]) -> str:
    """The dotted path that names an exception class in error records."""
    return f"{exc_type.__module__}.{exc_type.__qualname__}"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobLimits:
    """The task limits a job counts against: ``key`` names the group (the task, or the task and its
    ``limit_key``); ``rate`` is stored as "count/seconds" (see ``backroom.limits.Rate``)."""

    key: str
    concurrency: int | None = None
    rate: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewJob:
    """A job about to be stored; arguments already JSON, checked and measured."""

    id: str
    task_path: str
    queue_name: str
    priority: int
    args: str
    kwargs: str
    run_after: datetime | None
    available_at: datetime
    enqueued_at: datetime
    max_attempts: int
    timeout_seconds: float | None
    retry: dict[str, Any]
    unique_key: str | None
    expires_at: datetime | None = None  # not started by then: it ends CANCELLED, never run
    links: "Links | None" = None  # its place in a workflow; with parents, it is stored waiting
    limits: "JobLimits | None" = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobBatch:
    """Jobs of one task about to be stored together: what they share, then each one's id and arguments.

    ``ids``, ``args`` and ``kwargs`` are parallel lists, in call order. A
    batch has no unique key.
    """

    task_path: str
    queue_name: str
    priority: int
    run_after: datetime | None
    available_at: datetime
    enqueued_at: datetime
    max_attempts: int
    timeout_seconds: float | None
    retry: dict[str, Any]
    ids: Sequence[str]
    args: Sequence[str]
    kwargs: Sequence[str]
    expires_at: datetime | None = None
    limits: "JobLimits | None" = None

    def chunks(self, rows: int, max_chars: int = 16_000_000) -> list[tuple[int, int]]:
        """Split the batch into (start, end) ranges of at most ``rows`` jobs and ``max_chars`` of arguments.

        A range holds one job at least, however large its arguments: a
        statement or script call stays a sensible size whatever the batch.
        """
        ranges = []
        start, chars = 0, 0
        for index, (args, kwargs) in enumerate(zip(self.args, self.kwargs, strict=True)):
            size = len(args) + len(kwargs)
            if index > start and (index - start >= rows or chars + size > max_chars):
                ranges.append((start, index))
                start, chars = index, 0
            chars += size
        if start < len(self.ids):
            ranges.append((start, len(self.ids)))
        return ranges

    def job(self, index: int) -> NewJob:
        """The batch's job at ``index``, as a NewJob."""
        return NewJob(
            id=self.ids[index],
            task_path=self.task_path,
            queue_name=self.queue_name,
            priority=self.priority,
            args=self.args[index],
            kwargs=self.kwargs[index],
            run_after=self.run_after,
            available_at=self.available_at,
            enqueued_at=self.enqueued_at,
            max_attempts=self.max_attempts,
            timeout_seconds=self.timeout_seconds,
            retry=self.retry,
            unique_key=None,
            expires_at=self.expires_at,
            limits=self.limits,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """A stored job as read back: what get_result shows, what a worker runs, what the dashboard lists.

    ``attempts`` counts attempts whose code started. A READY job with a
    ``worker_id`` is held by that worker, claimed ahead and not yet started.
    """

    id: str
    task_path: str
    queue_name: str
    priority: int
    status: JobStatus
    args: list[Any]
    kwargs: dict[str, Any]
    run_after: datetime | None
    available_at: datetime
    enqueued_at: datetime
    started_at: datetime | None
    last_attempted_at: datetime | None
    finished_at: datetime | None
    attempts: int
    max_attempts: int
    timeout_seconds: float | None
    retry: dict[str, Any]
    unique_key: str | None
    worker_id: str | None
    worker_ids: list[str]
    errors: list[ErrorRecord]
    return_value: Any
    progress: Any
    cancel_requested: bool = False
    #: How many times a worker died while holding this job: above 0 it runs alone.
    orphaned: int = 0
    #: What makes the stored job unrunnable (edited into nonsense), or None.
    defect: str | None = None
    #: Not started by then, the job ends CANCELLED with ``JobExpired``, never run.
    expires_at: datetime | None = None
    #: Its place in a workflow (chain or group), or None.
    links: "Links | None" = None
    #: How many parents' outcomes it still waits for: above 0, no worker can claim it.
    waiting_for: int = 0
    #: The task's global limits this job counts against, if any.
    limits: "JobLimits | None" = None

    @property
    def next_attempt(self) -> int:
        """The number of the attempt a worker holding this READY job would start."""
        return self.attempts + 1

    def evolve(self, **changes: Any) -> "JobRecord":
        """This record with ``changes``, as ``dataclasses.replace`` makes it at about half the cost.

        A worker makes two or three per job (held, running, finished); field
        by field through the slots, without ``__init__``'s keyword handling.
        """
        record = object.__new__(JobRecord)
        for name, slot in _JOB_SLOTS:
            slot.__set__(record, changes.pop(name) if name in changes else slot.__get__(self))
        if changes:
            raise TypeError(f"JobRecord has no field {', '.join(sorted(changes))}")
        return record


_JOB_SLOTS = tuple((field.name, vars(JobRecord)[field.name]) for field in fields(JobRecord))


def claim_order(job: JobRecord) -> tuple[int, datetime, str]:
    """The order a claim takes jobs in: priority, then age, then id."""
    return (-job.priority, job.available_at, job.id)
