"""Put jobs and workers of a store into known states through its broker and a real worker."""

import os
import socket
from datetime import datetime, timedelta

from django.utils import timezone

from backroom.brokers.contract import Transition, WorkerInfo
from backroom.jobs.records import JobStatus
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.support import store_of


def broker(store: str):
    return store_of(store).broker


def inspector(store: str):
    return store_of(store).inspector


def drain(store: str) -> None:
    """Run every ready job of the store to its outcome with an in-process burst worker."""
    assert Worker(store_of(store), WorkerOptions(burst=True)).run() == 0


def failed_job(store: str, message: str = "boom") -> str:
    """Enqueue a job that fails for good at its only attempt, and run it."""
    result = tasks.always_fail.using(backend=store, max_attempts=1).enqueue(message)
    drain(store)
    return result.id


def register_worker(
    store: str, worker_id: str, queues: list[str], heartbeat_at: datetime | None = None
) -> WorkerInfo:
    """Record a worker's heartbeat as a running worker process would."""
    now = heartbeat_at or timezone.now()
    info = WorkerInfo(
        id=worker_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        queues=queues,
        concurrency=2,
        backend=store,
        started_at=now - timedelta(minutes=5),
    )
    broker(store).heartbeat(info, now, now + timedelta(seconds=60))
    return info


def claim_one(store: str, worker_id: str) -> str:
    """Enqueue a job, claim it for ``worker_id`` and record its start, leaving it RUNNING."""
    result = tasks.noop.using(backend=store, priority=100).enqueue()
    now = timezone.now()
    claimed = broker(store).claim(worker_id, (), 1, now, now + timedelta(seconds=60))
    assert [job.id for job in claimed] == [result.id]
    start = Transition(
        job_id=result.id,
        queue_name=claimed[0].queue_name,
        attempt=1,
        status=JobStatus.RUNNING,
        started_at=now,
    )
    assert broker(store).record(worker_id, [start]) == set()
    return result.id
