"""backroom.enqueue_many: many calls of one task stored in one go, on every store."""

import asyncio
import datetime
from datetime import timedelta

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import backroom
from backroom.brokers.database.postgresql import CHANNEL
from backroom.compat import BaseTaskBackend, InvalidTask, TaskResultStatus, task_backends, task_enqueued
from backroom.exceptions import InvalidArguments
from backroom.jobs.records import JobBatch
from tests import tasks
from tests.support import job_count, runs


class Rollback(Exception):
    pass


def test_results_in_call_order_and_run_by_a_worker(store, run_worker):
    task = tasks.add.using(backend=store)
    calls = [((i, 1), {}) for i in range(5)] + [((), {"a": 10, "b": 20}), ([7], {"b": 8})]
    results = backroom.enqueue_many(task, calls)

    assert [(r.args, r.kwargs) for r in results] == [(list(args), kwargs) for args, kwargs in calls]
    assert len({r.id for r in results}) == len(calls)
    assert all(r.status == TaskResultStatus.READY and r.backend == store for r in results)
    assert job_count(store) == len(calls)
    assert run_worker(store) == 0
    for result in results:
        result.refresh()
    assert [r.return_value for r in results] == [1, 2, 3, 4, 5, 30, 15]


def test_aenqueue_many_for_async_code(store, run_worker):
    results = asyncio.run(
        backroom.aenqueue_many(tasks.add.using(backend=store), (((i, i), {}) for i in range(3)))
    )
    asyncio.run(sync_to_async(connections.close_all)())  # as a request's end would, in asgiref's thread
    assert run_worker(store) == 0
    for result in results:
        result.refresh()
    assert [r.return_value for r in results] == [0, 2, 4]


def test_batch_larger_than_a_chunk_is_stored_whole(store):
    results = backroom.enqueue_many(tasks.noop.using(backend=store), [((), {})] * 2345)
    assert len(results) == 2345
    assert job_count(store) == 2345
    backend = task_backends[store]
    stored = backend.get_result(results[-1].id)
    assert (stored.status, stored.args, stored.kwargs) == (TaskResultStatus.READY, [], {})


def test_options_of_the_task_apply_to_every_job(store):
    run_after = timezone.now() + timedelta(hours=1)
    task = tasks.add.using(
        backend=store, queue_name="reports", priority=7, run_after=run_after, max_attempts=5
    )
    first, second = backroom.enqueue_many(task, [((1, 2), {}), ((3, 4), {})])
    backend = task_backends[store]
    for result in (first, second):
        record = backend.store.broker.get(result.id)
        assert record is not None
        assert (record.queue_name, record.priority, record.max_attempts) == ("reports", 7, 5)
        assert record.run_after == record.available_at == run_after
        assert record.enqueued_at == result.enqueued_at


def test_delayed_jobs_wait_for_their_time(store, run_worker):
    now = timezone.now()
    task = tasks.record.using(backend=store, run_after=now + timedelta(minutes=5))
    results = backroom.enqueue_many(task, [(("later-1", store), {}), (("later-2", store), {})])
    assert run_worker(store, clock=lambda: now + timedelta(seconds=1)) == 0
    assert not runs(store).exists()
    assert run_worker(store, clock=lambda: now + timedelta(minutes=5, seconds=1)) == 0
    assert sorted(runs(store).values_list("label", flat=True)) == ["later-1", "later-2"]
    for result in results:
        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL


def test_bad_argument_in_one_call_stores_nothing_and_names_it(store):
    calls = [((1, 2), {}), ((3, 4), {}), ((), {"a": 1, "b": datetime.datetime.now()})]
    with pytest.raises(InvalidArguments, match=r"^Call 2: Argument 'b' .*datetime"):
        backroom.enqueue_many(tasks.add.using(backend=store), calls)
    with pytest.raises(InvalidArguments, match=r"^Call 1: Argument 'a' \(position 0\)"):
        backroom.enqueue_many(tasks.add.using(backend=store), [((1, 2), {}), ((float("nan"), 2), {})])
    assert job_count(store) == 0


@pytest.mark.parametrize(
    "call, message",
    [
        ((1, 2), r"Call 1: expected args as a tuple or list"),
        (((1,),), r"Call 1: expected an \(args, kwargs\) pair"),
        (((), {1: 2}), r"Call 1: keyword argument names must be strings"),
    ],
)
def test_malformed_call_is_refused(store, call, message):
    with pytest.raises(InvalidTask, match=message):
        backroom.enqueue_many(tasks.add.using(backend=store), [((1, 2), {}), call])
    assert job_count(store) == 0


def test_oversized_arguments_are_refused(store, settings):
    options = {**settings.TASKS[store]["OPTIONS"], "MAX_ARGUMENTS_BYTES": 1000}
    settings.TASKS = {**settings.TASKS, store: {**settings.TASKS[store], "OPTIONS": options}}
    with pytest.raises(InvalidArguments, match=r"^Call 1: The arguments .* over the limit of 1,000"):
        backroom.enqueue_many(tasks.record.using(backend=store), [(("x",), {}), (("é" * 600,), {})])
    assert job_count(store) == 0


def test_unique_key_task_is_refused(store):
    with pytest.raises(InvalidTask, match="unique_key"):
        backroom.enqueue_many(tasks.add.using(backend=store, unique_key="k"), [((1, 2), {})])
    assert job_count(store) == 0


def test_queue_the_backend_does_not_serve_is_refused(settings):
    settings.TASKS = {
        "default": {"BACKEND": "backroom.backends.DatabaseBackend", "QUEUES": ["default"]},
    }
    with pytest.raises(InvalidTask, match="Queue 'emails' is not valid"):
        backroom.enqueue_many(tasks.in_emails_queue, [(("x",), {})])


def test_no_calls_store_nothing(store):
    assert backroom.enqueue_many(tasks.noop.using(backend=store), iter([])) == []
    assert job_count(store) == 0


def test_task_enqueued_is_sent_for_each_job(store):
    seen = []

    def on_enqueued(sender, task_result, **kwargs):
        seen.append((task_result.id, task_result.args))

    task_enqueued.connect(on_enqueued)
    try:
        results = backroom.enqueue_many(tasks.add.using(backend=store), [((1, 2), {}), (([1, 2], [3]), {})])
    finally:
        task_enqueued.disconnect(on_enqueued)
    assert seen == [(results[0].id, [1, 2]), (results[1].id, [[1, 2], [3]])]


def test_rolled_back_transaction_leaves_no_job(sql_store):
    with pytest.raises(Rollback), transaction.atomic(using=sql_store):
        runs(sql_store).create(label="user row", pid=0)
        backroom.enqueue_many(tasks.noop.using(backend=sql_store), [((), {})] * 1500)
        assert job_count(sql_store) == 1500  # visible inside the transaction
        raise Rollback
    assert job_count(sql_store) == 0
    assert not runs(sql_store).exists()


def test_one_chunk_is_one_statement(sql_store):
    task = tasks.noop.using(backend=sql_store)
    backroom.enqueue_many(task, [((), {})])  # warm up: connection, limits
    with CaptureQueriesContext(connections[sql_store]) as queries:
        backroom.enqueue_many(task, [((), {})] * 50)
    assert len(queries) == 1, [q["sql"][:80] for q in queries]


def test_committed_transaction_keeps_jobs_with_user_data(sql_store):
    with transaction.atomic(using=sql_store):
        runs(sql_store).create(label="user row", pid=0)
        backroom.enqueue_many(tasks.noop.using(backend=sql_store), [((), {})] * 3)
    assert job_count(sql_store) == 3


def test_postgres_stores_a_chunk_per_statement_and_notifies_once(pg):
    database = connections[pg].settings_dict
    listener = psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"], dbname=database["NAME"],
        autocommit=True,
    )  # fmt: skip
    try:
        listener.execute(f"LISTEN {CHANNEL}")
        with CaptureQueriesContext(connections[pg]) as queries:
            backroom.enqueue_many(tasks.noop.using(backend=pg), [((), {})] * 2500)
        # A session hears its own NOTIFY after those committed before it: the marker ends the list.
        listener.execute(f"NOTIFY {CHANNEL}, 'end of test'")
        payloads = []
        for notification in listener.notifies(timeout=30):
            if notification.payload == "end of test":
                break
            payloads.append(notification.payload)
    finally:
        listener.close()
    statements = [q["sql"] for q in queries]
    assert len(statements) == 5, [sql[:80] for sql in statements]
    assert statements[0] == "BEGIN" and statements[-1] == "COMMIT"  # three chunks, one transaction
    assert all("INSERT INTO backroom_job" in sql for sql in statements[1:-1])
    assert payloads == ["default"]


def test_redis_on_commit_writes_jobs_when_the_transaction_commits(redis_store, settings):
    options = {**settings.TASKS[redis_store]["OPTIONS"], "ENQUEUE_ON_COMMIT": True}
    settings.TASKS = {**settings.TASKS, redis_store: {**settings.TASKS[redis_store], "OPTIONS": options}}
    task = tasks.noop.using(backend=redis_store)
    with pytest.raises(Rollback), transaction.atomic():
        backroom.enqueue_many(task, [((), {})] * 3)
        raise Rollback
    assert job_count(redis_store) == 0
    with transaction.atomic():
        backroom.enqueue_many(task, [((), {})] * 3)
        assert job_count(redis_store) == 0
    assert job_count(redis_store) == 3


def test_batches_split_by_rows_and_by_size():
    now = timezone.now()
    batch = JobBatch(
        task_path="tests.tasks.record", queue_name="default", priority=0, run_after=None,
        available_at=now, enqueued_at=now, max_attempts=1, timeout_seconds=None, retry={},
        ids=[str(i) for i in range(7)], args=["[1]", "[22]", "[333]", "[1]", "[1]", "[1]", "[1]"],
        kwargs=["{}"] * 7,
    )  # fmt: skip
    assert batch.chunks(3) == [(0, 3), (3, 6), (6, 7)]
    assert batch.chunks(100, max_chars=10) == [(0, 1), (1, 2), (2, 3), (3, 5), (5, 7)]
    assert batch.chunks(100, max_chars=1) == [(i, i + 1) for i in range(7)]  # one job at least


def test_other_backends_get_one_enqueue_per_call(settings):
    # django.tasks's or, on Django 5.2, the django-tasks backport's.
    dummy = BaseTaskBackend.__module__.rsplit(".", 1)[0] + ".dummy.DummyBackend"
    settings.TASKS = {**settings.TASKS, "dummy": {"BACKEND": dummy}}
    results = backroom.enqueue_many(tasks.add.using(backend="dummy"), [((1, 2), {}), ((), {"a": 3, "b": 4})])
    assert [(r.args, r.kwargs, r.backend) for r in results] == [
        ([1, 2], {}, "dummy"),
        ([], {"a": 3, "b": 4}, "dummy"),
    ]
