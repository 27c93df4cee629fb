"""Expiry: a job no worker started by its ``expires`` time ends CANCELLED with JobExpired, never run."""

import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

import backroom
from backroom import RetryPolicy
from backroom.compat import InvalidTask, TaskResultStatus
from tests import tasks
from tests.core.test_retries import Clock
from tests.support import job_count, runs, stored_job

EXPIRED = "backroom.exceptions.JobExpired"


def assert_expired_unrun(store, result_id, label):
    job = stored_job(store, result_id)
    assert (job.status, job.attempts, job.worker_id, job.started_at) == ("CANCELLED", 0, None, None)
    assert job.finished_at is not None
    assert [e.exception_class_path for e in job.errors] == [EXPIRED]
    assert not runs(store).filter(label=label).exists()


def test_a_job_not_started_before_it_expires_is_cancelled_and_never_runs(store, run_worker):
    clock = Clock()
    result = tasks.record.using(backend=store, expires=10).enqueue("too late", store)
    job = stored_job(store, result.id)
    assert job.expires_at == job.enqueued_at + timedelta(seconds=10)
    assert job.status == "READY"  # nobody enforces it before a worker reaches the job

    clock.advance(seconds=10)  # 11 s after the enqueue
    assert run_worker(store, clock=clock) == 0
    assert_expired_unrun(store, result.id, "too late")
    assert stored_job(store, result.id).finished_at == clock.now
    result.refresh()
    assert result.status == TaskResultStatus.FAILED  # Django has no CANCELLED: FAILED with the reason
    assert result.errors[-1].exception_class_path == EXPIRED
    assert backroom.cancel(result) == backroom.Cancelled.FINISHED


def test_a_job_started_before_it_expires_runs(store, run_worker):
    result = tasks.record.using(backend=store, expires=timedelta(seconds=10)).enqueue("in time", store)
    assert run_worker(store, clock=Clock()) == 0  # 1 s after the enqueue
    result.refresh()
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, "in time")
    assert list(runs(store).values_list("label", flat=True)) == ["in time"]


def test_a_retry_due_after_the_expiry_is_not_started(store, run_worker):
    clock = Clock()
    policy = RetryPolicy(backoff_seconds=10, jitter=0)
    task = tasks.fail_times.using(backend=store, max_attempts=3, retry=policy, expires=15)
    result = task.enqueue("flaky", 2, store)
    assert run_worker(store, clock=clock) == 0  # attempt 1 at +1 s fails, retry due at +11 s
    clock.advance(seconds=10)
    assert run_worker(store, clock=clock) == 0  # attempt 2 started in time fails, retry due at +31 s
    clock.advance(seconds=20)
    assert run_worker(store, clock=clock) == 0
    job = stored_job(store, result.id)
    assert (job.status, job.attempts, job.worker_id) == ("CANCELLED", 2, None)
    paths = [e.exception_class_path for e in job.errors]
    assert paths == ["builtins.ConnectionError", "builtins.ConnectionError", EXPIRED]
    assert runs(store).filter(label="flaky").count() == 2


def test_expires_as_an_aware_datetime(store, run_worker):
    deadline = (timezone.now() + timedelta(minutes=5)).astimezone(ZoneInfo("Asia/Tokyo"))
    result = tasks.record.using(backend=store, expires=deadline).enqueue("dated", store)
    assert stored_job(store, result.id).expires_at == deadline
    clock = Clock()
    clock.now = deadline  # expiring at that very moment
    assert run_worker(store, clock=clock) == 0
    assert_expired_unrun(store, result.id, "dated")


def test_a_delayed_job_can_expire_before_it_is_due(store, run_worker):
    clock = Clock()
    task = tasks.record.using(backend=store, run_after=clock.now + timedelta(minutes=1), expires=30)
    result = task.enqueue("never due in time", store)
    clock.advance(minutes=1)
    assert run_worker(store, clock=clock) == 0
    assert_expired_unrun(store, result.id, "never due in time")


def test_enqueue_many_with_expires(store, run_worker):
    clock = Clock()
    task = tasks.record.using(backend=store, expires=10)
    results = backroom.enqueue_many(task, [(("batch",), {"using": store})] * 3)
    kept = tasks.record.using(backend=store).enqueue("unlimited", store)
    for result in results:
        job = stored_job(store, result.id)
        assert job.expires_at == job.enqueued_at + timedelta(seconds=10)
    assert stored_job(store, kept.id).expires_at is None

    clock.advance(seconds=10)
    assert run_worker(store, clock=clock) == 0
    for result in results:
        assert_expired_unrun(store, result.id, "batch")
    assert stored_job(store, kept.id).status == "SUCCESSFUL"
    assert list(runs(store).values_list("label", flat=True)) == ["unlimited"]


@pytest.mark.parametrize(
    "expires",
    [-1, 0, float("nan"), True, "60", datetime.datetime(2030, 1, 1), [10], 10**400, timedelta.max],
    ids=["negative", "zero", "nan", "bool", "text", "naive datetime", "list", "huge", "timedelta.max"],
)
def test_bad_expires_is_refused_before_anything_is_stored(store, expires):
    message = r"expires must be a positive number of seconds \(up to 1,000 years\), a timedelta or an aware"
    with pytest.raises(InvalidTask, match=message):
        tasks.record.using(backend=store, expires=expires).enqueue("bad", store)
    with pytest.raises(InvalidTask, match=message):
        tasks.record.using(backend=store).apply_async(("bad", store), expires=expires)
    assert job_count(store) == 0
