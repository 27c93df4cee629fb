"""Cancelling: a READY job never runs; a RUNNING one asked to stop ends CANCELLED, not retried."""

import threading

from asgiref.sync import async_to_sync
from django.utils import timezone

import backroom
from backroom.compat import TaskResultStatus
from backroom.status.payload import status_payload
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.support import runs, store_of, stored_job, wait_until


def test_a_cancelled_ready_job_never_runs(store, run_worker):
    result = tasks.record.using(backend=store).enqueue("never", store)
    assert backroom.cancel(result) == backroom.Cancelled.CANCELLED
    assert run_worker(store) == 0
    assert not runs(store).filter(label="never").exists()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED  # Django has no CANCELLED: FAILED with the reason
    assert result.errors[-1].exception_class_path == "backroom.exceptions.JobCancelled"
    assert stored_job(store, result.id).status == "CANCELLED"
    payload = status_payload(
        stored_job(store, result.id), now=timezone.now(), expose_return_value=False, no_worker=False
    )
    assert (payload["status"], payload["finished"]) == ("CANCELLED", True)
    assert backroom.cancel(result.id, backend=store) == backroom.Cancelled.FINISHED
    assert (
        backroom.cancel("00000000-0000-7000-8000-000000000000", backend=store) == backroom.Cancelled.UNKNOWN
    )


def _run_until_started(store, result, label):
    worker = Worker(store_of(store), WorkerOptions(burst=True))
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_until(lambda: runs(store).filter(label=f"{label}:started").exists(), what="the task to start")
    wait_until(lambda: stored_job(store, result.id).status == "RUNNING", what="its start to be written")
    return thread


def test_a_running_job_that_raises_job_cancelled_ends_cancelled_not_retried(store):
    result = tasks.stop_when_asked.using(backend=store).enqueue("raise", store)
    thread = _run_until_started(store, result, "raise")
    assert async_to_sync(backroom.acancel)(result) == backroom.Cancelled.REQUESTED
    thread.join(timeout=30)
    job = stored_job(store, result.id)
    assert (job.status, job.attempts, job.max_attempts) == ("CANCELLED", 1, 3)
    assert job.errors[-1].exception_class_path == "backroom.exceptions.JobCancelled"


def test_a_running_job_that_returns_after_a_stop_request_ends_cancelled(store):
    result = tasks.stop_when_asked.using(backend=store).enqueue("return", store, raise_it=False)
    thread = _run_until_started(store, result, "return")
    assert backroom.cancel(result) == backroom.Cancelled.REQUESTED
    thread.join(timeout=30)
    job = stored_job(store, result.id)
    assert (job.status, job.attempts) == ("CANCELLED", 1)
    assert "returned after it was asked to stop" in job.errors[-1].traceback


def test_a_task_stuck_past_its_timeout_never_overlaps_its_retry(store):
    """A thread stuck in C is abandoned, but its job stays held until it comes out: no run meanwhile."""
    result = tasks.stuck_in_c.using(backend=store).enqueue(2.5, "stuck", store)
    worker = Worker(store_of(store), WorkerOptions(burst=True, concurrency=2))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_until(lambda: worker.pool.abandoned(), timeout=10, what="the stuck thread to be abandoned")
        # Visible: the worker reports its abandoned thread; the job is still RUNNING, not retried yet.
        wait_until(
            lambda: any(w.abandoned_threads == 1 for w in store_of(store).inspector.workers()),
            what="the abandoned thread to be reported",
        )
        assert stored_job(store, result.id).status == "RUNNING"
        assert runs(store).filter(label="stuck:started").count() == 1
    finally:
        thread.join(timeout=30)
    assert not thread.is_alive()
    starts = list(runs(store).filter(label="stuck:started").order_by("at").values_list("at", flat=True))
    assert len(starts) == 2
    # The first attempt's thread sat in its 2.5 s sleep: the retry began only once it came out.
    assert (starts[1] - starts[0]).total_seconds() >= 2.5, "the retry started while the stuck attempt ran"
    job = stored_job(store, result.id)
    assert (job.status, job.attempts) == ("FAILED", 2)
    assert [e.exception_class_path for e in job.errors] == ["backroom.exceptions.JobTimeout"] * 2
