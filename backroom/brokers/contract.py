"""The one interface every store implements, and the values that cross it.

Backends call ``enqueue``; workers claim, record and release; schedulers
enqueue slots; the dashboard, the admin, metrics and the CLI read and act
through the rest. A broker only moves data in and out of its store: retry
decisions, timeouts, the reaping policy and signals live above it. Every
broker turns an outage of its store into ``StoreUnavailable`` and a missing
schema into ``StoreNotReady``, so nothing above the brokers knows a driver's
errors.

Every write made on behalf of a worker is guarded by its claim (job id,
owner, attempt): a late write after the job was taken back changes nothing.
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from ..exceptions import StoreError
from ..jobs.links import Links
from ..jobs.records import ErrorRecord, JobBatch, JobRecord, JobStatus, NewJob
from .inspection import FinishedCount, JobFilter, JobPage, QueueStats, TaskFailures, Timings, WorkerState

#: How long a worker's record outlives its last heartbeat before it is forgotten.
STALE_WORKER_RETENTION = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimRef:
    """A job a worker holds, and the attempt it holds it for (started or about to start)."""

    job_id: str
    attempt: int
    queue_name: str
    started: bool = False  # whether the store knows the attempt started (the job is RUNNING)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """What a worker records for a job it holds: the start of an attempt, its end, or both at once.

    ``started_at`` set: the attempt started then (the job becomes RUNNING and
    is charged the attempt). ``status`` is RUNNING for a start alone, else how
    the attempt ended: SUCCESSFUL, FAILED, CANCELLED, or READY when another
    attempt follows at ``available_at``. ``lost`` marks an attempt ended by
    its worker's death: the job runs alone from then on. CANCELLED without
    ``started_at`` on a job held but not started ends it unrun (it expired):
    ``attempt`` is then the attempts it already had, so none is charged.
    """

    job_id: str
    queue_name: str
    attempt: int
    status: JobStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    available_at: datetime | None = None
    return_value: str | None = None  # JSON
    error: ErrorRecord | None = None
    lost: bool = False
    #: The job's workflow links: a final outcome applies them in the same atomic write.
    links: Links | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldJob:
    """A job some worker holds whose lease ran out (or whose worker is known dead)."""

    job_id: str
    queue_name: str
    task_path: str
    owner: str | None  # None: a RUNNING job whose owner was edited away
    status: JobStatus  # READY: claimed ahead, never started; RUNNING: started
    attempts: int
    max_attempts: int
    links: Links | None = None

    @property
    def claim(self) -> ClaimRef:
        started = self.status == JobStatus.RUNNING
        attempt = self.attempts if started else self.attempts + 1
        return ClaimRef(job_id=self.job_id, attempt=attempt, queue_name=self.queue_name, started=started)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    id: str
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    backend: str
    started_at: datetime
    abandoned_threads: int = 0


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


class Cancelled(StrEnum):
    """What a cancellation did."""

    CANCELLED = "cancelled"  # the job was READY: it will never run
    REQUESTED = "requested"  # the job is RUNNING: it was asked to stop
    UNKNOWN = "unknown"  # no such job
    FINISHED = "finished"  # the job had already finished


class Broker(Protocol):
    """What backends, workers and schedulers need of a store; one implementation per store, complete."""

    #: Whether enqueue joins the caller's database transaction (a rolled-back job is never stored).
    joins_transactions: bool
    #: How often an idle worker polls when nothing wakes it.
    default_poll_interval_seconds: float
    #: Whether one workflow's jobs may sit in different queues (a Redis Cluster keeps one to a queue).
    workflows_span_queues: bool

    # Storing jobs (backends and schedulers).

    def enqueue(self, job: NewJob) -> JobRecord | None:
        """Store a job; with a unique key already active, return that job instead."""

    def enqueue_many(self, batch: JobBatch) -> None:
        """Store every job of the batch, all or none, waking idle workers once per queue."""

    def enqueue_workflow(self, jobs: Sequence[NewJob]) -> None:
        """Store every job of a workflow, all or none, in one atomic write (one transaction or script).

        A job whose links name parents is stored waiting: no worker claims it
        until ``record`` (or a cancellation) of its parents releases it.
        """

    def enqueue_slot(self, job: NewJob, schedule_name: str, slot_at: datetime) -> str | None:
        """Store ``job`` for one slot of a schedule, unless that slot was already enqueued.

        The slot record (schedule_name, slot_at) and the job are stored
        atomically, and a slot is recorded at most once however many
        schedulers race for it: exactly one call gets an id, the others get
        None and store nothing. The id is ``job.id``, or that of the active job
        holding ``job.unique_key`` (the slot is then served by it).
        """

    def last_slots(self, schedule_names: Sequence[str]) -> dict[str, SlotRun]:
        """Return the latest recorded slot of each named schedule that has one."""

    def get(self, job_id: str) -> JobRecord | None: ...

    # Running jobs (workers).

    def claim(
        self, worker_id: str, queues: Sequence[str], limit: int, now: datetime, lease_expires_at: datetime
    ) -> list[JobRecord]:
        """Hold up to ``limit`` ready jobs for this worker, best first; they stay READY until started.

        ``queues`` empty means every queue. Jobs held ahead are not charged an
        attempt; ``record`` starts them. Jobs of a paused queue are left, and
        limited jobs are taken only as far as their limits allow, counting the
        jobs held across every worker (docs/limits.md); the others are claimed
        past them.
        """

    def held_back_seconds(self) -> float | None:
        """After this thread's last claim: how soon a job it held back for a limit may be claimed.

        None when the claim held nothing back. The worker claims again then,
        instead of waiting for its next poll.
        """

    def record(self, worker_id: str | None, transitions: Sequence[Transition]) -> set[str]:
        """Write starts and outcomes in one atomic batch; return the ids whose claim no longer held."""

    def record_and_claim(
        self, worker_id: str, transitions: Sequence[Transition], claim: Callable[[], list[JobRecord]]
    ) -> tuple[set[str], list[JobRecord] | None]:
        """``record``, then ``claim()`` (this broker's claim, arguments bound): a draining worker's batch.

        The claim sees what the record wrote. Either both are written or an
        error says neither was; or, where the two cannot be one write, the
        claim's jobs are None when it failed after the record was written.
        """

    def release(self, worker_id: str | None, claims: Sequence[ClaimRef], *, lost: bool = False) -> None:
        """Hand held jobs back as READY, uncharged; ``lost``: their worker died, so they run alone next."""

    def heartbeat(
        self, worker: WorkerInfo, now: datetime, lease_expires_at: datetime, held: Sequence[ClaimRef] = ()
    ) -> None:
        """Record that the worker lives and extend the leases of the jobs in ``held``.

        ``held`` is the worker's own account of its jobs. A job the store says it
        holds and the worker does not know (its release or outcome was lost with
        a failed-over Redis primary) keeps its lease, which runs out: the job is
        taken back instead of being held for as long as the worker lives.
        """

    def expired(self, now: datetime, limit: int, dead_workers: Sequence[str] = ()) -> list[HeldJob]:
        """Return held jobs whose lease ran out, or whose worker is one of ``dead_workers``."""

    def silent_workers(self, heartbeat_before: datetime) -> list[WorkerInfo]:
        """Return the registered workers whose last heartbeat is older than that moment."""

    def connected_workers(self, workers: Sequence[WorkerInfo]) -> set[str] | None:
        """Return the ids of these workers that still hold a connection to the store; None if it cannot tell.

        A worker process that died loses its connections at once: this is how
        its jobs come back within seconds instead of after their lease.
        """

    def forget_workers(self, heartbeat_before: datetime) -> None:
        """Delete the records of workers silent since before that moment."""

    def unregister(self, worker_id: str) -> None: ...

    def set_progress(self, claim: ClaimRef, progress: str) -> None:
        """Store a running job's progress (JSON), if the claim still holds."""

    def is_cancel_requested(self, claim: ClaimRef) -> bool: ...

    def listen(self, wake: Callable[[str], None], stop: threading.Event) -> None:
        """Call ``wake(queue_name)`` when a job becomes ready, until ``stop`` is set.

        Runs in its own thread. Stores without push notification return at once.
        """

    def prune(self, successful_before: datetime, failed_before: datetime, batch_size: int) -> Pruned:
        """Delete finished jobs and old slot records, ``batch_size`` at most per short step.

        Deletes SUCCESSFUL jobs finished before ``successful_before``, FAILED
        and CANCELLED ones finished before ``failed_before``, never an active
        job; and slot records older than both dates, except each schedule's
        latest (its last run).
        """

    def reset_connection(self) -> None:
        """Drop the calling thread's connection after an error, so the next call reconnects."""

    def new_ids(self, queue_name: str, count: int) -> list[str]:
        """Ids for ``count`` new jobs of a queue (time-ordered UUIDs; a store may shape them)."""


class Inspector(Protocol):
    """What people read from a store and do to it: the dashboard, the admin, metrics and the CLI.

    Reads are bounded, so a page refreshing every few seconds stays cheap;
    actions change only jobs in the state they name.
    """

    def get(self, job_id: str) -> JobRecord | None: ...

    def queue_stats(self, now: datetime) -> list[QueueStats]:
        """Count ready, scheduled, running and failed jobs per queue that has any."""

    def throughput(self, since: datetime) -> list[FinishedCount]:
        """Count successful and failed jobs per queue and minute, from ``since``; empty minutes omitted."""

    def timings(self, since: datetime, bucket: timedelta, sample_per_minute: int) -> list[Timings]:
        """Give wait and run percentiles per queue and time bucket, sampling each minute."""

    def failed_tasks(self, limit: int) -> list[TaskFailures]:
        """List the tasks with failed jobs, most failures first."""

    def jobs(self, where: JobFilter, offset: int, limit: int) -> JobPage:
        """List jobs matching ``where``, newest first."""

    def workers(self) -> list[WorkerState]:
        """List registered workers, live or not, with the jobs each is running."""

    # Acting for people: each changes only jobs in the state it names.

    def retry_job(self, job_id: str, now: datetime) -> bool:
        """Make a FAILED or CANCELLED job READY now, with at least one attempt left.

        Attempts and errors are kept (the history stays whole); ``max_attempts``
        grows to ``attempts + 1`` if the attempts were used up. Refused while
        another active job holds the same unique key.
        """

    def cancel(self, job_id: str, now: datetime, by: str) -> Cancelled:
        """Cancel a READY job (it never runs), or ask a RUNNING one to stop."""

    def retry_failed(self, task_path: str, now: datetime) -> int:
        """Retry every FAILED job of a task, as ``retry_job`` does; return how many."""

    def delete_failed(self, task_path: str) -> int:
        """Delete every FAILED job of a task; return how many."""

    # Pausing queues: checked by the store's claim, so every worker of every host obeys at once.

    def pause_queue(self, queue_name: str, now: datetime, by: str) -> bool:
        """Stop workers claiming the queue's jobs (enqueue goes on); False if it was already paused."""

    def resume_queue(self, queue_name: str) -> bool:
        """Let workers claim the queue's jobs again, waking idle ones; False if it was not paused."""

    def paused_queues(self) -> list[str]:
        """The names of the paused queues, sorted."""


def cancellation_error(by: str, at: datetime) -> ErrorRecord:
    """The error record of a job cancelled before it ran."""
    path = "backroom.exceptions.JobCancelled"
    return ErrorRecord(
        exception_class_path=path, traceback=f"{path}: cancelled by {by}\n", at=at, cancelled_by=by
    )


def record_then_claim(
    broker: Broker, worker_id: str, transitions: Sequence[Transition], claim: Callable[[], list[JobRecord]]
) -> tuple[set[str], list[JobRecord] | None]:
    """``Broker.record_and_claim`` for a store that writes them apart: a failed claim is None."""
    refused = broker.record(worker_id, transitions)
    try:
        return refused, claim()
    except StoreError:
        return refused, None
