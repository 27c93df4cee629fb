"""What a store must do for backroom, and the values that cross that line.

Backends call ``enqueue`` and ``get``; the worker calls the rest. A broker
only moves data in and out of its store: retry decisions, timeouts and
signals live above it. What people read and do through the dashboard, the
admin, metrics and the CLI is the second protocol, ``inspection.Inspector``.
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

#: How long a worker's record outlives its last heartbeat before the reaper deletes it.
STALE_WORKER_RETENTION = timedelta(hours=1)
#: The most expired leases one reap takes back.
REAP_BATCH = 500
LOST_WORKER_ERROR = "backroom.exceptions.WorkerLost"
#: The traceback recorded for a reaped attempt, %-formatted with (worker id, attempt, max attempts)
#: by Python and by Lua's string.format alike.
LOST_WORKER_TRACEBACK = (
    f"{LOST_WORKER_ERROR}: worker lost while running: %s stopped heartbeating during attempt %s of %s.\n"
)


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
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """A stored job as read back: what get_result shows and what a worker runs."""

    id: str
    task_path: str
    queue_name: str
    priority: int
    status: str
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
    errors: list[dict[str, Any]]
    return_value: Any
    progress: Any
    #: What makes the stored row unrunnable (edited into nonsense), or None.
    defect: str | None = None


def claim_order(job: JobRecord) -> tuple[int, datetime, str]:
    """The order a claim takes jobs in: priority, then age, then id."""
    return (-job.priority, job.available_at, job.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How one attempt of a claimed job ended.

    ``status`` is the job's next state: SUCCESSFUL, FAILED, or READY when
    another attempt follows at ``available_at``. ``attempt`` identifies the
    claim, so an outcome that arrives after the job was reaped changes nothing.
    """

    job_id: str
    attempt: int
    status: str
    finished_at: datetime
    return_value: str | None = None
    error: dict[str, Any] | None = None
    available_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimRef:
    """A claim this worker holds: the job and the attempt it was claimed for."""

    job_id: str
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    id: str
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    backend: str
    started_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaped:
    """A running job taken back from a lost worker."""

    job_id: str
    task_path: str
    worker_id: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotRun:
    """A schedule's slot that was enqueued: when it was due, and the job that serves it."""

    schedule_name: str
    slot_at: datetime
    job_id: str
    enqueued_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Pruned:
    """What one prune deleted."""

    jobs: int
    schedule_runs: int


class Broker(Protocol):
    """The store operations backroom needs; one implementation per store."""

    @property
    def default_poll_interval_seconds(self) -> float:
        """How often an idle worker polls when nothing wakes it."""

    def enqueue(self, job: NewJob) -> JobRecord | None:
        """Store a job; with a unique key already active, return that job instead."""

    def enqueue_many(self, batch: JobBatch) -> None:
        """Store every job of the batch, all or none, waking idle workers once per queue.

        A database store writes in the caller's transaction when there is one.
        """

    def get(self, job_id: str) -> JobRecord | None: ...

    def claim(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        now: datetime,
        lease_expires_at: datetime,
    ) -> list[JobRecord]:
        """Mark up to ``limit`` ready jobs RUNNING for this worker, best first."""

    def persist(self, worker_id: str, outcomes: Sequence[Outcome]) -> None:
        """Record finished attempts (complete, fail or retry) in one batch."""

    def release(self, worker_id: str, claims: Sequence[ClaimRef]) -> None:
        """Hand claimed jobs back as READY without charging their attempt."""

    def heartbeat(self, worker: WorkerInfo, now: datetime, lease_expires_at: datetime) -> None:
        """Record that the worker lives and extend the leases of its running jobs."""

    def reap(self, now: datetime) -> list[Reaped]:
        """Take back running jobs whose lease expired: retry them or fail them."""

    def unregister(self, worker_id: str) -> None: ...

    def set_progress(self, claim: ClaimRef, progress: Any) -> None: ...

    def is_cancel_requested(self, job_id: str) -> bool: ...

    def listen(self, wake: Callable[[str], None], stop: threading.Event) -> None:
        """Call ``wake(queue_name)`` when a job is enqueued, until ``stop`` is set.

        Runs in its own thread. Stores without push notification return at once.
        """

    def enqueue_slot(self, job: NewJob, schedule_name: str, slot_at: datetime) -> str | None:
        """Store ``job`` for one slot of a schedule, unless that slot was already enqueued.

        The slot record (schedule_name, slot_at) and the job are stored
        atomically, and a slot is recorded at most once however many
        schedulers race for it: exactly one call gets an id, the others get
        None and store nothing. The id is ``job.id``, or that of the active job
        holding ``job.unique_key`` when there is one (the slot is then served by
        it). Enqueue wake-ups fire as for ``enqueue``.
        """

    def last_slots(self, schedule_names: Sequence[str]) -> dict[str, SlotRun]:
        """Return the latest recorded slot of each named schedule that has one."""

    def prune(self, successful_before: datetime, failed_before: datetime, batch_size: int) -> Pruned:
        """Delete finished jobs and old slot records, ``batch_size`` at most per short transaction.

        Deletes SUCCESSFUL jobs finished before ``successful_before``, FAILED
        and CANCELLED ones finished before ``failed_before``, never a ready or
        running job; and slot records older than both dates, except each
        schedule's latest (its last run).
        """

    def reset_connection(self) -> None:
        """Drop the calling thread's connection after an error, so the next call reconnects."""
