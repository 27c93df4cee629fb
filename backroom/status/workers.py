"""Whether a live worker serves a job's queue, so that a status page can say that none is running.

A worker is live as the dashboard judges it (``monitoring.health``): heard
from within a few heartbeats. A worker that exits cleanly unregisters and
stops counting at once; a killed or frozen one stops counting when its
heartbeat goes quiet, long before the leases of its jobs run out. Streams
read every half second, so a process lists a store's workers at most once
every ``max_age_seconds``, for every stream and request of that store
together, and only for jobs that are READY and due.
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime

from ..brokers.inspection import WorkerState
from ..monitoring.health import is_live, stale_after
from ..store import Store


class WorkerWatch:
    """The registered workers of each store, listed at most once every ``max_age_seconds``."""

    def __init__(self, max_age_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        # Held while listing, so that streams waiting on an expired list share one read of the store.
        self._lock = threading.Lock()
        self._listed: dict[str, tuple[float, list[WorkerState]]] = {}

    def serves(self, store: Store, queue_name: str, now: datetime) -> bool:
        """Whether a live worker of ``store`` serves ``queue_name``."""
        silence = stale_after(store)
        return any(w.serves(queue_name) and is_live(w, now, silence) for w in self._workers(store))

    def _workers(self, store: Store) -> list[WorkerState]:
        with self._lock:
            listed = self._listed.get(store.alias)
            if listed is None or self.clock() - listed[0] >= self.max_age_seconds:
                listed = (self.clock(), store.inspector.workers())
                self._listed[store.alias] = listed
            return listed[1]
