"""What the dashboard, the admin, metrics and the CLI may read from a store and do to it.

A store's broker implements ``Inspector`` beside ``Broker``. Reads are
bounded (one hour of history, pages of jobs) so that a dashboard refreshing
every few seconds stays cheap; actions change only jobs in the state they
name, so a click on a stale page changes nothing it should not.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from .base import Broker, JobRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    """One queue's backlog: jobs ready now, ready later, running, and failed."""

    queue_name: str
    ready: int
    scheduled: int  # READY, but not before a future available_at (run_after or retry backoff)
    running: int
    failed: int
    oldest_ready_at: datetime | None  # when the longest-waiting ready job became due


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedCount:
    """Jobs of one queue that finished within one minute."""

    queue_name: str
    minute: datetime
    successful: int
    failed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Timings:
    """Wait and run time percentiles of one queue's jobs finished within one time bucket.

    Wait runs from when the job's last attempt became due (``available_at``)
    to when a worker started it; run, from that start to the finish.
    """

    queue_name: str
    start: datetime
    samples: int
    wait_p50_seconds: float
    wait_p95_seconds: float
    run_p50_seconds: float
    run_p95_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailures:
    """How many failed jobs one task has, and when the latest failed."""

    task_path: str
    count: int
    last_failed_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFilter:
    """Which jobs a listing shows; every field left None matches all."""

    queue_name: str | None = None
    task: str | None = None  # part of the task path, case-insensitive
    status: str | None = None
    enqueued_after: datetime | None = None
    enqueued_before: datetime | None = None
    id_prefix: str | None = None  # a whole job id or its beginning


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPage:
    """One page of a listing, newest first."""

    jobs: list[JobRecord]
    has_next: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningJob:
    id: str
    task_path: str
    queue_name: str
    attempt: int
    started_at: datetime | None  # this attempt's start
    progress: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerState:
    """A registered worker as last heard of, with the jobs it holds now."""

    id: str
    hostname: str
    pid: int
    queues: list[str]  # empty: every queue
    concurrency: int
    backend: str
    started_at: datetime
    last_heartbeat_at: datetime
    running: list[RunningJob]

    def serves(self, queue_name: str) -> bool:
        return not self.queues or queue_name in self.queues


@runtime_checkable
class Inspector(Broker, Protocol):
    """A broker that can also show its jobs and workers, and act on jobs for people."""

    # Reading.

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
        """List registered workers, live or not, with the jobs each holds."""

    # Acting: each returns what it changed, and changes nothing in another state.

    def retry_job(self, job_id: str, now: datetime) -> bool:
        """Make a FAILED or CANCELLED job READY now, with at least one attempt left.

        Attempts and errors are kept (the history stays whole); ``max_attempts``
        grows to ``attempts + 1`` if the attempts were used up. Refused while
        another active job holds the same unique key.
        """

    def cancel_job(self, job_id: str, now: datetime, by: str) -> bool:
        """Make a READY job CANCELLED, recording who cancelled it as its error."""

    def request_cancel(self, job_id: str) -> bool:
        """Ask a RUNNING job to stop; the task sees it through ``is_cancel_requested()``."""

    def retry_failed(self, task_path: str, now: datetime) -> int:
        """Retry every FAILED job of a task, as ``retry_job`` does; return how many."""

    def delete_failed(self, task_path: str) -> int:
        """Delete every FAILED job of a task; return how many."""


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` percentile of ``values`` by linear interpolation (as percentile_cont)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
