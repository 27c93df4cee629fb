"""Gauges read from every inspectable backend when Prometheus scrapes."""

from collections.abc import Callable, Iterable
from datetime import datetime

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..backends.stores import stores
from ..monitoring.health import take_snapshot

STATES = ("ready", "scheduled", "running", "failed")


class StoreCollector(Collector):
    """Job counts, oldest ready age, workers and unserved queues, per backend."""

    def __init__(self, clock: Callable[[], datetime] = timezone.now) -> None:
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        jobs = GaugeMetricFamily(
            "backroom_jobs",
            "Jobs by queue and status (ready: due now; scheduled: ready at a later time).",
            labels=["backend", "queue", "status"],
        )
        oldest = GaugeMetricFamily(
            "backroom_oldest_ready_job_age_seconds",
            "How long the longest-waiting ready job of the queue has been due.",
            labels=["backend", "queue"],
        )
        unserved = GaugeMetricFamily(
            "backroom_queue_unserved",
            "1 when the queue has ready jobs and no live worker serves it.",
            labels=["backend", "queue"],
        )
        workers = GaugeMetricFamily(
            "backroom_workers",
            "Registered workers: live (heartbeat within the lease) or stale.",
            labels=["backend", "state"],
        )
        abandoned = GaugeMetricFamily(
            "backroom_worker_abandoned_threads",
            "Threads of a live worker stuck in a task past its timeout (it recycles at its concurrency).",
            labels=["backend", "worker"],
        )
        now = self.clock()
        for alias, store in stores().items():
            snapshot = take_snapshot(store, now)
            for queue in snapshot.queues:
                for status in STATES:
                    jobs.add_metric([alias, queue.queue_name, status], getattr(queue, status))
                age = snapshot.oldest_ready_age(queue)
                oldest.add_metric([alias, queue.queue_name], 0.0 if age is None else age.total_seconds())
                unserved.add_metric([alias, queue.queue_name], float(queue.queue_name in snapshot.unserved))
            live = snapshot.live_workers()
            workers.add_metric([alias, "live"], len(live))
            workers.add_metric([alias, "stale"], len(snapshot.workers) - len(live))
            for worker in live:
                abandoned.add_metric([alias, worker.state.id], worker.state.abandoned_threads)
        return [jobs, oldest, unserved, workers, abandoned]
