"""The state of a backend at one moment: queues, workers, and the queues nobody serves.

The dashboard, metrics and ``backroom status`` all judge health here, so
they agree: a worker is live while its last heartbeat is younger than the
backend's lease; a queue is unserved when it has ready jobs and no live
worker serves it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from .backends.base import BackroomBackend
from .brokers.inspection import Inspector, QueueStats, WorkerState
from .compat import DEFAULT_TASK_BACKEND_ALIAS, task_backends


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerHealth:
    state: WorkerState
    live: bool
    heartbeat_age: timedelta
    uptime: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """What one backend's store holds now, judged against its lease."""

    backend: str
    now: datetime
    queues: list[QueueStats]
    workers: list[WorkerHealth]
    unserved: list[str]  # queues with ready jobs and no live worker

    def oldest_ready_age(self, queue: QueueStats) -> timedelta | None:
        return None if queue.oldest_ready_at is None else max(timedelta(0), self.now - queue.oldest_ready_at)

    def live_workers(self, queue_name: str | None = None) -> list[WorkerHealth]:
        return [w for w in self.workers if w.live and (queue_name is None or w.state.serves(queue_name))]

    def stale_workers(self) -> list[WorkerHealth]:
        return [w for w in self.workers if not w.live]


def inspectors() -> dict[str, Inspector]:
    """The backends whose store can be inspected, by TASKS alias, in settings order."""
    found = {}
    for alias in settings.TASKS:
        backend = task_backends[alias]
        if isinstance(backend, BackroomBackend) and isinstance(backend.broker, Inspector):
            found[alias] = backend.broker
    return found


def default_alias(aliases: list[str]) -> str | None:
    """The backend to show when none is asked for: the default one if it can be inspected."""
    if DEFAULT_TASK_BACKEND_ALIAS in aliases:
        return DEFAULT_TASK_BACKEND_ALIAS
    return aliases[0] if aliases else None


def _backend(alias: str) -> BackroomBackend:
    backend = task_backends[alias]
    if not isinstance(backend, BackroomBackend):
        raise TypeError(f"TASKS[{alias!r}] is not a backroom backend.")
    return backend


def take_snapshot(alias: str, inspector: Inspector, now: datetime) -> Snapshot:
    """Read queues and workers of one backend and judge them."""
    backend = _backend(alias)
    stale_after = timedelta(seconds=backend.settings.lease_seconds)
    workers = [
        WorkerHealth(
            state=state,
            live=now - state.last_heartbeat_at < stale_after,
            heartbeat_age=max(timedelta(0), now - state.last_heartbeat_at),
            uptime=max(timedelta(0), now - state.started_at),
        )
        for state in inspector.workers()  # every worker of this store serves its jobs, whatever alias it used
    ]
    stats = {queue.queue_name: queue for queue in inspector.queue_stats(now)}
    # Queues the backend declares or live workers name show up even when empty.
    known = set(backend.queues)
    known.update(name for w in workers if w.live for name in w.state.queues)
    for name in known - stats.keys():
        stats[name] = QueueStats(
            queue_name=name, ready=0, scheduled=0, running=0, failed=0, oldest_ready_at=None
        )
    queues = [stats[name] for name in sorted(stats)]
    unserved = [
        q.queue_name
        for q in queues
        if q.ready and not any(w.live and w.state.serves(q.queue_name) for w in workers)
    ]
    return Snapshot(backend=alias, now=now, queues=queues, workers=workers, unserved=unserved)


def worker_command(alias: str, queue_name: str) -> str:
    """The command that starts a worker for a queue, as the banner and ``status`` suggest it."""
    backend = "" if alias == DEFAULT_TASK_BACKEND_ALIAS else f" --backend {alias}"
    return f"python manage.py backroom worker{backend} --queue {queue_name}"
