"""Retries with backoff, final failures with every attempt's traceback, and timeouts."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from backroom import Retry, RetryPolicy
from backroom.compat import TaskResultStatus
from tests import tasks
from tests.support import stored_job

NO_JITTER = RetryPolicy(backoff_seconds=10, factor=3, jitter=0)


class Clock:
    """A clock the test moves by hand, starting just after the jobs it will run were enqueued."""

    def __init__(self):
        self.now = timezone.now() + timedelta(seconds=1)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def test_retries_with_backoff_until_success(store, run_worker):
    clock = Clock()
    task = tasks.fail_times.using(backend=store, max_attempts=3, retry=NO_JITTER)
    result = task.enqueue("flaky", 2, store)

    assert run_worker(store, clock=clock) == 0
    job = stored_job(store, result.id)
    assert (job.status, job.attempts) == ("READY", 1)
    assert job.available_at == clock.now + timedelta(seconds=10)

    clock.advance(seconds=9)  # not yet due
    assert run_worker(store, clock=clock) == 0
    assert stored_job(store, result.id).attempts == 1

    clock.advance(seconds=1)
    assert run_worker(store, clock=clock) == 0
    job = stored_job(store, result.id)
    assert (job.status, job.attempts) == ("READY", 2)
    assert job.available_at == clock.now + timedelta(seconds=30)  # 10 * 3

    clock.advance(seconds=30)
    assert run_worker(store, clock=clock) == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 3
    assert result.attempts == 3
    assert [e.exception_class_path for e in result.errors] == ["builtins.ConnectionError"] * 2


def test_final_failure_keeps_every_traceback(store, run_worker):
    clock = Clock()
    task = tasks.always_fail.using(backend=store, max_attempts=3, retry=NO_JITTER)
    result = task.enqueue("boom")
    for _ in range(3):
        assert run_worker(store, clock=clock) == 0
        clock.advance(hours=1)
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 3
    assert len(result.errors) == 3
    for error in result.errors:
        assert error.exception_class is ValueError
        assert "raise ValueError(message)" in error.traceback
        assert "ValueError: boom" in error.traceback
    job = stored_job(store, result.id)
    assert [e.attempt for e in job.errors] == [1, 2, 3]
    assert job.finished_at is not None and job.worker_id is None


def test_exceptions_outside_retry_on_fail_at_once(store, run_worker):
    policy = RetryPolicy(retry_on=(ConnectionError,))
    result = tasks.always_fail.using(backend=store, max_attempts=5, retry=policy).enqueue("bad input")
    assert run_worker(store) == 0
    result.refresh()
    assert (result.status, result.attempts) == (TaskResultStatus.FAILED, 1)


def test_backend_default_attempts_come_from_options(store, run_worker, settings):
    settings.TASKS = {
        **settings.TASKS,
        store: {**settings.TASKS[store], "OPTIONS": {**settings.TASKS[store]["OPTIONS"], "MAX_ATTEMPTS": 1}},
    }
    result = tasks.always_fail.using(backend=store).enqueue("once")
    assert stored_job(store, result.id).max_attempts == 1
    assert run_worker(store) == 0
    result.refresh()
    assert (result.status, result.attempts) == (TaskResultStatus.FAILED, 1)


def test_timeout_stops_a_python_loop_and_counts_as_an_attempt(store, run_worker):
    no_wait = RetryPolicy(backoff_seconds=0, jitter=0)
    result = tasks.busy_loop.using(backend=store, timeout=0.3, max_attempts=2, retry=no_wait).enqueue(30)
    assert run_worker(store) == 0
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 2
    assert [e.exception_class_path for e in result.errors] == ["backroom.exceptions.JobTimeout"] * 2
    assert "timeout of 0.3s" in result.errors[0].traceback
    # Stopped at its timeout, not after the 30 s it wanted.
    assert result.finished_at - result.started_at < timedelta(seconds=10)


def test_timeout_abandons_a_thread_stuck_in_c(store, run_worker):
    tasks.STUCK_IN_C.clear()
    before = set(threading.enumerate())
    result = tasks.block_in_c.using(backend=store, timeout=0.2, max_attempts=1).enqueue(30)
    try:
        assert run_worker(store) == 0
    finally:  # let the abandoned thread end within this test, not log into a later one
        tasks.STUCK_IN_C.set()
        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=5)
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert "did not stop" in result.errors[0].traceback
    assert result.finished_at - result.started_at < timedelta(seconds=10)


def test_async_timeout(store, run_worker):
    result = tasks.async_sleep.using(backend=store, timeout=0.2, max_attempts=1).enqueue(30)
    assert run_worker(store) == 0
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class_path == "backroom.exceptions.JobTimeout"
    assert result.finished_at - result.started_at < timedelta(seconds=10)


def test_delay_for_is_exponential_capped_and_jittered():
    policy = RetryPolicy(backoff_seconds=2, factor=2, max_backoff_seconds=10, jitter=0.5)
    exc = RuntimeError()
    assert policy.delay_for(1, exc, rand=lambda: 0) == timedelta(seconds=2)
    assert policy.delay_for(2, exc, rand=lambda: 0) == timedelta(seconds=4)
    assert policy.delay_for(4, exc, rand=lambda: 0) == timedelta(seconds=10)
    assert policy.delay_for(2, exc, rand=lambda: 1) == timedelta(seconds=2)
    assert RetryPolicy(retry_on=(KeyError,)).delay_for(1, exc) is None


def test_policy_round_trips_through_json():
    policy = RetryPolicy(backoff_seconds=3, retry_on=(ConnectionError, TimeoutError))
    assert RetryPolicy.from_json(policy.to_json()) == policy


def test_a_task_raising_retry_after_runs_again_then_charged_one_attempt(store, run_worker):
    clock = Clock()
    result = tasks.retry_once.using(backend=store, max_attempts=2).enqueue("later", after=30, using=store)

    assert run_worker(store, clock=clock) == 0
    job = stored_job(store, result.id)
    assert (job.status, job.attempts) == ("READY", 1)
    assert job.available_at == clock.now + timedelta(seconds=30)  # exactly: no policy, no jitter
    assert job.errors[-1].exception_class_path == "backroom.retry.Retry"

    clock.advance(seconds=29)
    assert run_worker(store, clock=clock) == 0
    assert stored_job(store, result.id).attempts == 1  # not yet due
    clock.advance(seconds=1)
    assert run_worker(store, clock=clock) == 0
    result.refresh()
    assert (result.status, result.attempts) == (TaskResultStatus.SUCCESSFUL, 2)


def test_retry_at_a_time_and_with_no_attempt_left_fails(store, run_worker):
    clock = Clock()
    at = clock.now + timedelta(minutes=5)
    again = tasks.retry_once.using(backend=store, max_attempts=2).enqueue(
        "at", at=at.isoformat(), using=store
    )
    last = tasks.retry_once.using(backend=store).enqueue("last", after=1, using=store)  # max_attempts 1

    assert run_worker(store, clock=clock) == 0
    assert stored_job(store, again.id).available_at == at
    last.refresh()
    assert (last.status, last.attempts) == (TaskResultStatus.FAILED, 1)


def test_a_policy_backoff_function_chooses_the_wait_from_the_error(store, run_worker):
    clock = Clock()
    policy = RetryPolicy(backoff=tasks.backoff_from_error, jitter=0.5, max_backoff_seconds=60)
    task = tasks.rate_limited.using(backend=store, max_attempts=3, retry=policy)
    asked, capped, refused = task.enqueue(7), task.enqueue(600), task.enqueue(None)

    assert run_worker(store, clock=clock) == 0
    assert stored_job(store, asked.id).available_at == clock.now + timedelta(seconds=7)  # no jitter
    assert stored_job(store, capped.id).available_at == clock.now + timedelta(seconds=60)
    refused.refresh()
    assert refused.status == TaskResultStatus.FAILED  # the function said None: give up


def test_retry_and_backoff_refuse_what_cannot_work():
    with pytest.raises(TypeError, match="one of after="):
        Retry()
    with pytest.raises(TypeError, match="aware datetime"):
        Retry(at=timezone.now().replace(tzinfo=None))
    with pytest.raises(ValueError, match="finite number"):
        Retry(after=float("nan"))
    with pytest.raises(ValueError, match="module-level function"):
        RetryPolicy(backoff=lambda attempt, exc: 1)
    policy = RetryPolicy(backoff=tasks.backoff_from_error)
    assert RetryPolicy.from_json(policy.to_json()) == policy
