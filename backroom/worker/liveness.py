"""Staying alive and noticing the dead: heartbeats, and taking back what lost workers held.

Every worker heartbeats (extending the leases of the jobs it holds) and, on
the same beat, takes back jobs from lost workers. A worker is lost when its
lease ran out, or sooner on evidence that its process is gone: a worker
silent for two beats whose process no longer exists (checked on the same
host) or whose connection the store no longer sees (PostgreSQL sessions,
MariaDB locks, Redis clients). A live worker that is merely slow keeps its
process and its connection, so evidence never takes its jobs.

What is taken back: a started job was charged its attempt, so it ends that
attempt with ``WorkerLost`` (and is retried if it has attempts left); a job
held ahead and never started goes back READY, uncharged. Either way the job
is marked orphaned: it may be what killed the worker, so it runs alone.
"""

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import groupby

from ..brokers.contract import Broker, ClaimRef, HeldJob, Transition, WorkerInfo
from ..exceptions import WorkerLost
from ..jobs.records import ErrorRecord, JobStatus, error_path

logger = logging.getLogger(__name__)

#: The most held jobs one pass takes back.
REAP_BATCH = 500
#: Beats a worker may miss before evidence of its death is believed.
SILENT_BEATS = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaped:
    """A job taken back from a lost worker."""

    job_id: str
    task_path: str
    worker_id: str | None
    status: JobStatus  # what the job is now: READY again, or FAILED with its attempts used up
    started: bool  # whether the lost worker had started it


def lost_worker_error(owner: str | None, attempt: int, max_attempts: int, at: datetime) -> ErrorRecord:
    path = error_path(WorkerLost)
    return ErrorRecord(
        exception_class_path=path,
        traceback=f"{path}: worker lost while running: {owner} stopped during attempt "
        f"{attempt} of {max_attempts}.\n",
        attempt=attempt,
        worker_id=owner,
        at=at,
    )


def take_back(broker: Broker, held: Sequence[HeldJob], now: datetime) -> list[Reaped]:
    """End the lost attempts of started jobs and hand back the unstarted ones; return what changed."""
    reaped = []
    for owner, group in groupby(sorted(held, key=lambda h: h.owner or ""), key=lambda h: h.owner):
        jobs = list(group)
        started = [h for h in jobs if h.status == JobStatus.RUNNING]
        unstarted = [h for h in jobs if h.status == JobStatus.READY]
        outcomes = [
            Transition(
                job_id=h.job_id,
                queue_name=h.queue_name,
                attempt=h.attempts,
                status=JobStatus.FAILED if h.attempts >= h.max_attempts else JobStatus.READY,
                finished_at=now if h.attempts >= h.max_attempts else None,
                available_at=now,
                error=lost_worker_error(owner, h.attempts, h.max_attempts, now),
                lost=True,
                links=h.links,
            )
            for h in started
        ]
        refused = broker.record(owner, outcomes)
        broker.release(owner, [h.claim for h in unstarted], lost=True)
        reaped += [
            Reaped(job_id=o.job_id, task_path=h.task_path, worker_id=owner, status=o.status, started=True)
            for o, h in zip(outcomes, started, strict=True)
            if o.job_id not in refused
        ]
        reaped += [
            Reaped(
                job_id=h.job_id, task_path=h.task_path, worker_id=owner, status=JobStatus.READY, started=False
            )
            for h in unstarted
        ]
    return reaped


def process_gone(pid: int, not_before: datetime) -> bool:
    """Whether process ``pid`` of this host is gone (or is another process that took its number)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except FileNotFoundError:
        return True
    except OSError:
        return _kill_says_gone(pid)
    if fields[0] in ("Z", "X"):
        return True  # dead, not yet collected by its parent
    try:
        with open("/proc/stat") as stat:
            boot = next(int(line.split()[1]) for line in stat if line.startswith("btime "))
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return False
    return started > not_before.timestamp() + 1  # the number was reused by a process started later


def _kill_says_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Liveness:
    """One worker's heartbeat and reaping, due every ``heartbeat_seconds``."""

    def __init__(
        self, broker: Broker, info: WorkerInfo, heartbeat_seconds: float, lease_seconds: float
    ) -> None:
        self.broker = broker
        self.info = info
        self.heartbeat_seconds = heartbeat_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.hostname = socket.gethostname()

    def lease_end(self, now: datetime) -> datetime:
        return now + self.lease

    def beat(self, now: datetime, abandoned_threads: int, held: Sequence[ClaimRef]) -> None:
        if abandoned_threads != self.info.abandoned_threads:
            self.info = replace(self.info, abandoned_threads=abandoned_threads)
        self.broker.heartbeat(self.info, now, self.lease_end(now), held)

    def reap(self, now: datetime) -> list[Reaped]:
        """Take back the jobs of lost workers, logging each one."""
        held = self.broker.expired(now, REAP_BATCH, self._dead_workers(now))
        reaped = take_back(self.broker, held, now) if held else []
        for job in reaped:
            logger.warning(
                "job id=%s task=%s taken back from lost worker %s (%s): now %s",
                job.job_id, job.task_path, job.worker_id, "started" if job.started else "not started",
                job.status.lower(),
            )  # fmt: skip
        return reaped

    def _dead_workers(self, now: datetime) -> list[str]:
        """Workers silent for a while whose process or connection is gone."""
        silent = [
            w
            for w in self.broker.silent_workers(
                now - timedelta(seconds=SILENT_BEATS * self.heartbeat_seconds)
            )
            if w.id != self.info.id
        ]
        dead = [w.id for w in silent if w.hostname == self.hostname and process_gone(w.pid, w.started_at)]
        elsewhere = [w for w in silent if w.hostname != self.hostname]
        if elsewhere:
            connected = self.broker.connected_workers(elsewhere)
            if connected is not None:
                dead += [w.id for w in elsewhere if w.id not in connected]
        return dead

    def forget_stale(self, now: datetime, retention: timedelta) -> None:
        self.broker.forget_workers(now - retention)
