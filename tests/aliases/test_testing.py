"""backroom.testing: ``with drain():`` runs a worker on leaving the block; the pytest fixture on call."""

import pytest
from django.db import transaction

from backroom import RetryPolicy
from backroom.compat import TaskResultStatus
from backroom.testing import drain, drain_now
from tests import tasks
from tests.support import runs, stored_job


def test_drain_runs_what_the_block_enqueued(store):
    with drain(store):
        first = tasks.record.using(backend=store).enqueue("first", store)
        second = tasks.add.using(backend=store).enqueue(2, 3)
        assert stored_job(store, first.id).status == "READY"  # nothing runs inside the block
    first.refresh()
    second.refresh()
    assert (first.status, second.status, second.return_value) == (TaskResultStatus.SUCCESSFUL,) * 2 + (5,)
    assert list(runs(store).values_list("label", flat=True)) == ["first"]


def test_drain_serves_the_queues_it_is_given(store):
    with drain(store, queues=["emails"]):
        email = tasks.in_emails_queue.using(backend=store).enqueue("email", store)
        other = tasks.record.using(backend=store).enqueue("other", store)
    email.refresh()
    other.refresh()
    assert (email.status, other.status) == (TaskResultStatus.SUCCESSFUL, TaskResultStatus.READY)


@pytest.mark.django_db(transaction=True)
def test_a_block_that_raises_runs_no_worker():
    with pytest.raises(ValueError), drain():
        result = tasks.record.enqueue("not run")
        raise ValueError("the test failed")
    result.refresh()
    assert result.status == TaskResultStatus.READY
    assert not runs("default").exists()


@pytest.mark.django_db(transaction=True)
def test_drain_refuses_to_run_inside_a_transaction():
    with transaction.atomic():
        result = tasks.record.enqueue("uncommitted")
        with pytest.raises(RuntimeError, match=r"inside a transaction: use TransactionTestCase"):
            drain_now()
    result.refresh()
    assert result.status == TaskResultStatus.READY


def test_the_fixture_makes_the_test_transactional_and_runs_a_worker(backroom_worker):
    assert not transaction.get_connection().in_atomic_block  # pytest-django's TransactionTestCase
    result = tasks.add.enqueue(20, 22)
    backroom_worker()
    result.refresh()
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 42)


def test_drain_runs_every_attempt_of_a_retry_with_no_backoff(store):
    retried = tasks.fail_times.using(backend=store, max_attempts=3, retry=RetryPolicy(backoff_seconds=0))
    with drain(store):
        result = retried.enqueue("flaky", 2, store)
    result.refresh()
    assert (result.status, result.return_value, result.attempts) == (TaskResultStatus.SUCCESSFUL, 3, 3)
