"""Claiming ahead of the free threads, and writing outcomes in batches."""

import threading
from datetime import timedelta

from django.utils import timezone

from backroom.brokers.base import Outcome
from backroom.compat import task_backends
from backroom.worker.pool import ThreadPool
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.support import runs, stored_job, wait_until


def test_a_late_outcome_in_a_batch_changes_nothing(store):
    broker = task_backends[store].broker
    reaped = tasks.add.using(backend=store, priority=10).enqueue(1, 1)
    held = tasks.add.using(backend=store).enqueue(2, 2)
    now = timezone.now()
    [first] = broker.claim("w1", [], 1, now, now)  # its lease runs out at once
    [second] = broker.claim("w1", [], 1, now, now + timedelta(minutes=5))
    assert [r.job_id for r in broker.reap(now + timedelta(seconds=1))] == [reaped.id]

    broker.persist(
        "w1",
        [
            Outcome(
                job_id=job.id, attempt=job.attempts, status="SUCCESSFUL", finished_at=now, return_value="2"
            )
            for job in (first, second)
        ],
    )
    assert stored_job(store, held.id).status == "SUCCESSFUL"
    late = stored_job(store, reaped.id)
    assert (late.status, late.return_value, late.worker_id) == ("READY", None, None)
    assert [e["exception_class_path"] for e in late.errors] == ["backroom.exceptions.WorkerLost"]


def test_a_better_job_claimed_later_goes_before_those_claimed_ahead(sql_store):
    broker = task_backends[sql_store].broker

    def claim():
        now = timezone.now()
        return broker.claim("w1", [], 10, now, now + timedelta(minutes=1))

    for _ in range(2):
        tasks.add.using(backend=sql_store).enqueue(1, 1)
    ahead = claim()
    tasks.add.using(backend=sql_store, priority=50).enqueue(2, 2)
    better = claim()
    pool = ThreadPool(1, execute=None, timed_out=None, crashed=None, report=None)  # type: ignore[arg-type]
    pool.submit(ahead)
    pool.submit(better)
    assert [job.priority for job in pool.take_waiting()] == [50, 0, 0]


def test_jobs_claimed_ahead_are_handed_back_unstarted_on_stop(store, tmp_path):
    gate = tmp_path / "gate"
    quick = tasks.noop.using(backend=store, priority=100).enqueue()
    blocker = tasks.wait_for_file.using(backend=store, priority=50).enqueue(str(gate), "block", store)
    ahead = [tasks.add.using(backend=store).enqueue(i, i).id for i in range(3)]
    worker = Worker(task_backends[store], WorkerOptions(concurrency=1, prefetch=4, burst=True))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        # The quick job shows jobs are short, so the next claim takes more than the one thread.
        wait_until(lambda: runs(store).filter(label="block:started").exists(), what="the blocker to start")
        wait_until(
            lambda: all(stored_job(store, i).status == "RUNNING" for i in ahead), what="jobs claimed ahead"
        )
        worker.request_stop()
    finally:
        gate.touch()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert stored_job(store, quick.id).status == "SUCCESSFUL"
    assert stored_job(store, blocker.id).status == "SUCCESSFUL"
    for job_id in ahead:
        job = stored_job(store, job_id)
        assert (job.status, job.attempts, job.errors, job.started_at) == ("READY", 0, [], None)


class _EnqueueDuringClaim:
    """The worker's broker, with a job enqueued (and its wake-up delivered) while a claim runs."""

    def __init__(self, worker, store):
        self.broker, self.worker, self.store = worker.broker, worker, store
        self.enqueued = None

    def __getattr__(self, name):
        return getattr(self.broker, name)

    def claim(self, *args, **kwargs):
        jobs = self.broker.claim(*args, **kwargs)
        if self.enqueued is None:  # committed after the claim looked: only the wake-up tells
            self.enqueued = tasks.add.using(backend=self.store).enqueue(3, 4)
            self.worker._notified(self.enqueued.task.queue_name)
        return jobs


def test_a_wake_up_during_a_claim_is_not_lost(store):
    # No listener and no poll for an hour: only the wake-up can make the worker claim again.
    worker = Worker(task_backends[store], WorkerOptions(poll_interval_seconds=3600, scheduler=False))
    worker.broker = _EnqueueDuringClaim(worker, store)
    worker.run_once()  # the claim finds nothing; a job arrives meanwhile
    job_id = worker.broker.enqueued.id
    assert stored_job(store, job_id).status == "READY"
    worker.run_once()
    assert stored_job(store, job_id).status == "RUNNING"
