"""A worker's own counters and histograms, fed by task signals, served on --metrics-port."""

import re
import urllib.request
from datetime import timedelta

from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from backroom import RetryPolicy
from backroom.compat import task_backends
from backroom.metrics.worker import WorkerMetrics
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.support import wait_until


def test_signals_feed_the_counters_and_histograms(store):
    metrics = WorkerMetrics()
    metrics.connect()
    try:
        for _ in range(3):
            tasks.add.using(backend=store).enqueue(1, 2)
        tasks.always_fail.using(backend=store, max_attempts=1).enqueue("no")
        tasks.always_fail.using(backend=store, max_attempts=2, retry=RetryPolicy(jitter=0)).enqueue("later")
        tasks.noop.using(backend=store, queue_name="emails").enqueue()
        assert Worker(task_backends[store].store, WorkerOptions(burst=True)).run() == 0
    finally:
        metrics.disconnect()
    tasks.add.using(backend=store).enqueue(1, 2)
    # Not counted: disconnected.
    assert Worker(task_backends[store].store, WorkerOptions(burst=True)).run() == 0

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("backroom_worker_jobs_finished_total", task="tests.tasks.add", outcome="successful") == 3
    assert (
        sample("backroom_worker_jobs_finished_total", task="tests.tasks.always_fail", outcome="failed") == 1
    )
    assert (
        sample("backroom_worker_jobs_finished_total", task="tests.tasks.always_fail", outcome="retried") == 1
    )
    assert sample("backroom_worker_job_run_seconds_count", task="tests.tasks.add") == 3
    assert sample("backroom_worker_job_run_seconds_count", task="tests.tasks.always_fail") == 2
    # First attempts only: 3 adds and 2 always_fail in "default", the noop in "emails".
    assert sample("backroom_worker_job_wait_seconds_count", queue="default") == 5
    assert sample("backroom_worker_job_wait_seconds_count", queue="emails") == 1
    assert 0 <= sample("backroom_worker_job_wait_seconds_sum", queue="default") < 60


def test_the_worker_serves_its_metrics_over_http(store, worker_process):
    worker = worker_process("--backend", store, "--metrics-port", "0")
    match = wait_until(
        lambda: re.search(r"worker metrics on (http://127\.0\.0\.1:\d+/metrics)", worker.output()),
        what="the worker to log its metrics address",
    )
    results = [tasks.add.using(backend=store).enqueue(i, i) for i in range(4)]

    def finished() -> float:
        text = urllib.request.urlopen(match.group(1), timeout=10).read().decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "backroom_worker_jobs_finished_total" and s.labels["outcome"] == "successful":
                    return s.value
        return 0

    wait_until(lambda: finished() == 4, what="four successful jobs counted")

    def recorded() -> bool:
        # The worker counts a job when it ends; the store learns it with the next batch of outcomes.
        for result in results:
            result.refresh()
        return all(result.status == "SUCCESSFUL" for result in results)

    wait_until(recorded, what="the four outcomes written to the store")
    for result in results:
        assert result.return_value == result.args[0] * 2
    assert timezone.now() - results[0].finished_at < timedelta(minutes=1)
