"""A worker's own Prometheus metrics, fed by task signals and served on ``--metrics-port``.

Receivers, not calls in the worker loop: the executor already sends
``task_started``, ``task_finished`` and ``task_retrying`` for every attempt.
"""

import logging
import threading
from datetime import datetime
from typing import Any

from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from ..compat import TaskResult, task_finished, task_started
from ..signals import task_retrying

logger = logging.getLogger(__name__)

#: Seconds; from a few milliseconds (no-op tasks) to an hour (reports).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


class WorkerMetrics:
    """Counters and histograms of one worker process, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.finished = Counter(
            "backroom_worker_jobs_finished",
            "Attempts this worker finished, by task and outcome (successful, failed, retried).",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.run_seconds = Histogram(
            "backroom_worker_job_run_seconds",
            "How long attempts ran, by task.",
            ["task"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.wait_seconds = Histogram(
            "backroom_worker_job_wait_seconds",
            "How long jobs waited from due (enqueue or run_after) to their first start, by queue.",
            ["queue"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def connect(self) -> None:
        task_started.connect(self._started, weak=False, dispatch_uid=f"backroom-metrics-{id(self)}")
        task_finished.connect(self._finished, weak=False, dispatch_uid=f"backroom-metrics-{id(self)}")
        task_retrying.connect(self._retrying, weak=False, dispatch_uid=f"backroom-metrics-{id(self)}")

    def disconnect(self) -> None:
        for signal in (task_started, task_finished, task_retrying):
            signal.disconnect(dispatch_uid=f"backroom-metrics-{id(self)}")

    def _started(self, sender: Any, task_result: TaskResult, **kwargs: Any) -> None:
        if len(task_result.worker_ids) != 1:
            return  # a later attempt waited out a backoff, not the queue
        enqueued, run_after = task_result.enqueued_at, task_result.task.run_after
        due = max(enqueued, run_after) if enqueued and run_after else enqueued
        waited = _seconds(due, task_result.last_attempted_at)
        if waited is not None:
            self.wait_seconds.labels(task_result.task.queue_name).observe(waited)

    def _observe(self, task_result: TaskResult, outcome: str, end: datetime | None) -> None:
        task = task_result.task.module_path
        self.finished.labels(task, outcome).inc()
        ran = _seconds(task_result.last_attempted_at, end)
        if ran is not None:
            self.run_seconds.labels(task).observe(ran)

    def _finished(self, sender: Any, task_result: TaskResult, **kwargs: Any) -> None:
        self._observe(task_result, task_result.status.value.lower(), task_result.finished_at)

    def _retrying(self, sender: Any, task_result: TaskResult, **kwargs: Any) -> None:
        self._observe(task_result, "retried", timezone.now())

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics over HTTP in a daemon thread; return the bound port (``port`` 0: any free one)."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        bound = int(self._server.server_port)
        logger.info("worker metrics on http://%s:%d/metrics", host, bound)
        return bound

    def stop(self) -> None:
        self.disconnect()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def serve_worker_metrics(host: str, port: int) -> WorkerMetrics:
    """Count this process's jobs from now on and serve the counts on ``host:port``."""
    metrics = WorkerMetrics()
    metrics.connect()
    metrics.serve(host, port)
    return metrics
