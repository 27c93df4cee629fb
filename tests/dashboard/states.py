"""Put jobs and workers of a store into known states through its broker and a real worker."""

import os
import socket
from datetime import datetime, timedelta

from django.utils import timezone

from backroom.brokers.base import WorkerInfo
from backroom.compat import task_backends
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks


def broker(store: str):
    return task_backends[store].broker


def drain(store: str) -> None:
    """Run every ready job of the store to its outcome with an in-process burst worker."""
    assert Worker(task_backends[store], WorkerOptions(burst=True)).run() == 0


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
    """Enqueue a job and claim it for ``worker_id``, leaving it RUNNING."""
    result = tasks.noop.using(backend=store, priority=100).enqueue()
    now = timezone.now()
    claimed = broker(store).claim(worker_id, (), 1, now, now + timedelta(seconds=60))
    assert [job.id for job in claimed] == [result.id]
    return result.id
