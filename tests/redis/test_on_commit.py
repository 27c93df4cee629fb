"""ENQUEUE_ON_COMMIT: a job enqueued inside transaction.atomic() is written on commit only."""

import pytest
from django.db import transaction

from backroom.compat import TaskResultStatus, task_backends
from backroom.exceptions import StoreUnavailable
from tests import tasks
from tests.support import job_count, runs


@pytest.fixture
def on_commit(redis_store, settings):
    """The Redis backend with ENQUEUE_ON_COMMIT on the "default" database."""
    options = {**settings.TASKS[redis_store]["OPTIONS"], "ENQUEUE_ON_COMMIT": True}
    settings.TASKS = {**settings.TASKS, redis_store: {**settings.TASKS[redis_store], "OPTIONS": options}}
    return redis_store


class Rollback(Exception):
    pass


def test_job_is_written_when_the_transaction_commits(on_commit, run_worker):
    with transaction.atomic():
        runs(on_commit).create(label="user row", pid=0)
        result = tasks.record.using(backend=on_commit).enqueue("after commit", "default")
        assert result.status == TaskResultStatus.READY
        assert job_count(on_commit) == 0  # not yet: a worker must not see it before the row
    assert job_count(on_commit) == 1
    assert run_worker(on_commit) == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_rolled_back_transaction_writes_no_job(on_commit):
    with pytest.raises(Rollback), transaction.atomic():
        result = tasks.record.using(backend=on_commit).enqueue("never", "default")
        raise Rollback
    assert job_count(on_commit) == 0
    with pytest.raises(Exception, match=result.id):
        result.refresh()


def test_outside_a_transaction_the_job_is_written_at_once(on_commit):
    tasks.record.using(backend=on_commit).enqueue("now", "default")
    assert job_count(on_commit) == 1


def test_active_unique_key_is_found_before_commit(on_commit):
    task = tasks.record.using(backend=on_commit, unique_key="only-one")
    first = task.enqueue("first", "default")
    with transaction.atomic():
        second = task.enqueue("second", "default")
    assert second.id == first.id
    assert job_count(on_commit) == 1


def test_without_the_option_enqueue_does_not_wait(redis_store):
    assert not task_backends[redis_store].settings.enqueue_on_commit
    with transaction.atomic():
        tasks.record.using(backend=redis_store).enqueue("at once", "default")
        assert job_count(redis_store) == 1


def test_redis_down_at_commit_raises_after_the_data_committed(on_commit, settings):
    options = {**settings.TASKS[on_commit]["OPTIONS"], "REDIS_URL": "redis://127.0.0.1:1/0"}
    settings.TASKS = {**settings.TASKS, on_commit: {**settings.TASKS[on_commit], "OPTIONS": options}}
    with pytest.raises(StoreUnavailable), transaction.atomic():
        runs(on_commit).create(label="user row", pid=0)
        tasks.record.using(backend=on_commit).enqueue("lost", "default")
    assert runs(on_commit).filter(label="user row").exists()
