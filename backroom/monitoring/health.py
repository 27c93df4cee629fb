"""The state of a store at one moment: queues, workers, and the queues nobody serves.

The dashboard, metrics, the status endpoint and ``backroom status`` all
judge health here, so they agree: a worker is live while its last heartbeat
is younger than ``LIVE_BEATS`` heartbeats (and the lease); a queue is
unserved when it has ready jobs, is not paused, and no live worker serves it.
"""

import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..brokers.inspection import QueueStats, WorkerState
from ..compat import DEFAULT_TASK_BACKEND_ALIAS
from ..store import Store

#: Heartbeats a worker may miss before it no longer counts as live.
LIVE_BEATS = 5


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
    unserved: list[str]  # queues with ready jobs and no live worker (a paused queue is never unserved)
    paused: frozenset[str] = frozenset()  # queues whose jobs no worker claims until resumed

    def oldest_ready_age(self, queue: QueueStats) -> timedelta | None:
        return None if queue.oldest_ready_at is None else max(timedelta(0), self.now - queue.oldest_ready_at)

    def live_workers(self, queue_name: str | None = None) -> list[WorkerHealth]:
        return [w for w in self.workers if w.live and (queue_name is None or w.state.serves(queue_name))]

    def stale_workers(self) -> list[WorkerHealth]:
        return [w for w in self.workers if not w.live]


def stale_after(store: Store) -> timedelta:
    """How long a worker may stay silent and still count as live."""
    config = store.settings
    return timedelta(seconds=min(config.lease_seconds, LIVE_BEATS * config.heartbeat_seconds))


def is_live(state: WorkerState, now: datetime, silence: timedelta) -> bool:
    """Whether the worker was heard from within ``silence`` (see ``stale_after``)."""
    return now - state.last_heartbeat_at < silence


def take_snapshot(store: Store, now: datetime) -> Snapshot:
    """Read queues and workers of one store and judge them."""
    inspector = store.inspector
    silence = stale_after(store)
    workers = [
        WorkerHealth(
            state=state,
            live=is_live(state, now, silence),
            heartbeat_age=max(timedelta(0), now - state.last_heartbeat_at),
            uptime=max(timedelta(0), now - state.started_at),
        )
        for state in inspector.workers()  # every worker of this store serves its jobs, whatever alias it used
    ]
    stats = {queue.queue_name: queue for queue in inspector.queue_stats(now)}
    paused = frozenset(inspector.paused_queues())
    # Queues the backend declares, live workers name, or someone paused show up even when empty.
    known = set(store.queues) | paused
    known.update(name for w in workers if w.live for name in w.state.queues)
    for name in known - stats.keys():
        stats[name] = QueueStats(
            queue_name=name, ready=0, scheduled=0, running=0, failed=0, oldest_ready_at=None
        )
    queues = [stats[name] for name in sorted(stats)]
    unserved = [
        q.queue_name
        for q in queues
        if q.ready
        and q.queue_name not in paused
        and not any(w.live and w.state.serves(q.queue_name) for w in workers)
    ]
    return Snapshot(
        backend=store.alias, now=now, queues=queues, workers=workers, unserved=unserved, paused=paused
    )


def worker_command(alias: str, queue_name: str) -> str:
    """The command that starts a worker for a queue, as the banner and ``status`` suggest it."""
    backend = "" if alias == DEFAULT_TASK_BACKEND_ALIAS else f" --backend {shlex.quote(alias)}"
    return f"python manage.py backroom worker{backend} --queue {shlex.quote(queue_name)}"
