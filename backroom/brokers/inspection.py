"""What the dashboard, the admin, metrics and the CLI read from a store: the values of its reading half.

Reads are bounded (one hour of history, pages of jobs) so that a dashboard
refreshing every few seconds stays cheap.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..jobs.records import JobRecord, JobStatus


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
    status: JobStatus | None = None
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
    abandoned_threads: int = 0  # threads stuck past a timeout, still inside a task

    def serves(self, queue_name: str) -> bool:
        return not self.queues or queue_name in self.queues


class TimingSamples:
    """Wait and run times of finished jobs, gathered per queue and time bucket, then summed up as Timings."""

    def __init__(self, since: datetime, bucket: timedelta) -> None:
        self.since = since
        self.bucket = bucket
        self._groups: dict[tuple[str, datetime], tuple[list[float], list[float]]] = {}

    def add(self, queue_name: str, finished_at: datetime, wait_seconds: float, run_seconds: float) -> None:
        start = self.since + self.bucket * ((finished_at - self.since) // self.bucket)
        waits, runs = self._groups.setdefault((queue_name, start), ([], []))
        waits.append(max(0.0, wait_seconds))
        runs.append(max(0.0, run_seconds))

    def timings(self) -> list[Timings]:
        return [
            Timings(
                queue_name=queue_name,
                start=start,
                samples=len(waits),
                wait_p50_seconds=percentile(waits, 0.5),
                wait_p95_seconds=percentile(waits, 0.95),
                run_p50_seconds=percentile(runs, 0.5),
                run_p95_seconds=percentile(runs, 0.95),
            )
            for (queue_name, start), (waits, runs) in sorted(self._groups.items())
        ]


def running_jobs(jobs: Sequence[JobRecord]) -> dict[str, list[RunningJob]]:
    """Group RUNNING jobs by the worker running them, as ``WorkerState.running`` lists them."""
    running: dict[str, list[RunningJob]] = {}
    for job in jobs:
        running.setdefault(job.worker_id or "", []).append(
            RunningJob(
                id=job.id,
                task_path=job.task_path,
                queue_name=job.queue_name,
                attempt=job.attempts,
                started_at=job.last_attempted_at,
                progress=job.progress,
            )
        )
    return running


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` percentile of ``values`` by linear interpolation (as percentile_cont)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
