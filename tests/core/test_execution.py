"""Enqueue -> worker -> result, on every store."""

import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.utils import timezone

from backroom.compat import (
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_backends,
    task_finished,
    task_started,
)
from backroom.models import Job
from tests import tasks
from tests.support import runs, store_of, stored_job, wait_until


def test_sync_task_result(store, run_worker):
    result = tasks.add.using(backend=store).enqueue(2, 3)
    assert result.status == TaskResultStatus.READY
    assert result.args == [2, 3]
    assert run_worker(store) == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.attempts == 1
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.errors == []


def test_async_task_result(store, run_worker):
    result = tasks.async_add.using(backend=store).enqueue(a=20, b=22)
    assert run_worker(store) == 0
    fetched = tasks.async_add.using(backend=store).get_result(result.id)
    assert fetched.status == TaskResultStatus.SUCCESSFUL
    assert fetched.return_value == 42
    assert fetched.kwargs == {"a": 20, "b": 22}


def test_aenqueue_and_aget_result(store, run_worker):
    task = tasks.add.using(backend=store)
    result = asyncio.run(task.aenqueue(1, 1))
    assert run_worker(store) == 0
    fetched = asyncio.run(task.aget_result(result.id))
    assert fetched.return_value == 2
    asyncio.run(result.arefresh())
    assert result.status == TaskResultStatus.SUCCESSFUL
    # The calls ran in asgiref's thread; close its connections as a request's end would.
    asyncio.run(sync_to_async(connections.close_all)())


def test_priorities_then_age(store, run_worker):
    record = tasks.record.using(backend=store)
    record.using(priority=-10).enqueue("low", store)
    record.enqueue("mid-1", store)
    record.using(priority=50).enqueue("high", store)
    record.enqueue("mid-2", store)
    record.using(priority=100).enqueue("top", store)
    assert run_worker(store, concurrency=1) == 0
    order = list(runs(store).order_by("id").values_list("label", flat=True))
    assert order == ["top", "high", "mid-1", "mid-2", "low"]


def test_run_after_waits_for_its_time(store, run_worker):
    now = timezone.now()
    later = tasks.record.using(backend=store, run_after=now + timedelta(minutes=5)).enqueue("later", store)
    tasks.record.using(backend=store).enqueue("now", store)
    assert run_worker(store, clock=lambda: now + timedelta(seconds=1)) == 0
    assert list(runs(store).values_list("label", flat=True)) == ["now"]
    later.refresh()
    assert later.status == TaskResultStatus.READY
    assert run_worker(store, clock=lambda: now + timedelta(minutes=5, seconds=1)) == 0
    later.refresh()
    assert later.status == TaskResultStatus.SUCCESSFUL
    assert later.task.run_after == now + timedelta(minutes=5)


def test_queues_are_served_only_when_named(store, run_worker):
    emails = tasks.in_emails_queue.using(backend=store).enqueue("email", store)
    default = tasks.record.using(backend=store).enqueue("default", store)
    assert run_worker(store, queues=("default",)) == 0
    emails.refresh()
    default.refresh()
    assert (emails.status, default.status) == (TaskResultStatus.READY, TaskResultStatus.SUCCESSFUL)
    assert run_worker(store, queues=("emails",)) == 0
    emails.refresh()
    assert emails.status == TaskResultStatus.SUCCESSFUL


SQL_TRANSACTIONS_ONLY = "Redis does not join SQL transactions: tests/redis/test_on_commit.py covers it"


def test_rolled_back_enqueue_leaves_no_job(store):
    if not store_of(store).broker.joins_transactions:
        pytest.skip(SQL_TRANSACTIONS_ONLY)

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic(using=store):
        tasks.record.using(backend=store).enqueue("never", store)
        assert Job.objects.using(store).count() == 1  # visible inside the transaction
        raise Rollback
    assert Job.objects.using(store).count() == 0


def test_committed_enqueue_is_stored_with_user_data(store):
    if not store_of(store).broker.joins_transactions:
        pytest.skip(SQL_TRANSACTIONS_ONLY)
    with transaction.atomic(using=store):
        runs(store).create(label="user row", pid=0)
        result = tasks.record.using(backend=store).enqueue("with the row", store)
    assert Job.objects.using(store).filter(id=result.id).exists()


def test_context_gives_attempt_and_progress(store, run_worker):
    result = tasks.with_context.using(backend=store).enqueue(3)
    assert run_worker(store) == 0
    result.refresh()
    assert result.return_value == {"attempt": 1, "job_id": result.id}
    job = stored_job(store, result.id)
    assert job.progress == {"current": 3, "total": 3, "message": "step 3"}


def test_signals_carry_the_result(store, run_worker):
    seen = []

    def on_started(sender, task_result, **kwargs):
        seen.append(("started", task_result.id, task_result.status))

    def on_finished(sender, task_result, **kwargs):
        seen.append(("finished", task_result.id, task_result.status, task_result.return_value))

    task_started.connect(on_started)
    task_finished.connect(on_finished)
    try:
        result = tasks.add.using(backend=store).enqueue(1, 2)
        assert run_worker(store) == 0
    finally:
        task_started.disconnect(on_started)
        task_finished.disconnect(on_finished)
    assert seen == [
        ("started", result.id, TaskResultStatus.RUNNING),
        ("finished", result.id, TaskResultStatus.SUCCESSFUL, 3),
    ]


def test_unique_key_returns_the_active_job(store, run_worker):
    task = tasks.record.using(backend=store, unique_key="report:42")
    first = task.enqueue("first", store)
    second = task.enqueue("second", store)
    assert second.id == first.id
    assert second.args == ["first", store]
    assert run_worker(store) == 0
    # Finished jobs free the key.
    third = task.enqueue("third", store)
    assert third.id != first.id


def test_concurrency_runs_jobs_in_parallel(store, run_worker, tmp_path):
    gate = tmp_path / "gate"
    task = tasks.wait_for_file.using(backend=store)
    first = task.enqueue(str(gate), "a", store)
    second = task.enqueue(str(gate), "b", store)
    # Both jobs must be running at once for the gate to open: a serial worker would time out.

    def open_gate_when_both_started():
        try:
            wait_until(lambda: runs(store).filter(label__endswith=":started").count() == 2)
            gate.touch()
        finally:
            connections.close_all()

    opener = threading.Thread(target=open_gate_when_both_started)
    opener.start()
    assert run_worker(store, concurrency=2) == 0
    opener.join()
    for result in (first, second):
        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL


def test_get_result_of_unknown_id(store):
    backend = task_backends[store]
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result("00000000-0000-7000-8000-000000000000")
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result("not-a-uuid")


def test_signals_and_context_see_the_queue_and_priority_of_the_call(store, run_worker):
    seen = []

    def on_started(sender, task_result, **kwargs):
        seen.append((task_result.task.queue_name, task_result.task.priority))

    task_started.connect(on_started)
    try:
        tasks.add.using(backend=store, queue_name="reports", priority=7).enqueue(1, 1)
        assert run_worker(store) == 0
    finally:
        task_started.disconnect(on_started)
    assert seen == [("reports", 7)]
