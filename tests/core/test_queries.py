"""Hot paths cost one statement each, and the claim uses its index."""

import uuid
from datetime import timedelta

from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backroom.brokers.base import Outcome
from backroom.compat import task_backends
from tests import tasks


def test_enqueue_is_one_statement(sql_store):
    task = tasks.add.using(backend=sql_store)
    task.enqueue(0, 0)  # warm up: imports, connection
    with CaptureQueriesContext(connections[sql_store]) as queries:
        task.enqueue(1, 2)
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert "INSERT INTO backroom_job" in queries[0]["sql"]


def test_claim_is_one_statement_for_a_batch(sql_store):
    task = tasks.add.using(backend=sql_store)
    for i in range(5):
        task.enqueue(i, i)
    broker = task_backends[sql_store].broker
    now = timezone.now()
    with CaptureQueriesContext(connections[sql_store]) as queries:
        claimed = broker.claim("w1", [], 10, now, now + timedelta(minutes=1))
    assert len(claimed) == 5
    assert len(queries) == 1


def test_postgres_claim_uses_the_ready_index(pg):
    backend = task_backends[pg]
    # A deep queue beside a shallow one: a worker naming the shallow one must not walk the deep one.
    for queue, count in [("bulk", 3000), ("default", 20)]:
        task = tasks.add.using(backend=pg, queue_name=queue)
        for i in range(count):
            backend.broker.enqueue(backend.new_job(task, [i, i], {}))
    broker = backend.broker
    now = timezone.now()
    with connections[pg].cursor() as cursor:
        cursor.execute("ANALYZE backroom_job")
        for queues, index in [((), "backroom_job_ready"), (("default",), "backroom_job_ready_queue")]:
            params = ("w", "w", now, now, now, now, *queues, 10)
            cursor.execute("EXPLAIN " + broker.sql.claim(len(queues)), params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert index in plan, plan
            assert "Seq Scan" not in plan, plan


def test_a_batch_of_outcomes_is_one_statement(sql_store):
    task = tasks.add.using(backend=sql_store)
    ids = [task.enqueue(i, i).id for i in range(5)]
    broker = task_backends[sql_store].broker
    now = timezone.now()
    claimed = broker.claim("w1", [], 10, now, now + timedelta(minutes=1))
    outcomes = [
        Outcome(job_id=job.id, attempt=job.attempts, status="SUCCESSFUL", finished_at=now, return_value="7")
        for job in claimed
    ]
    with CaptureQueriesContext(connections[sql_store]) as queries:
        broker.persist("w1", outcomes)
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert [(broker.get(i).status, broker.get(i).return_value) for i in ids] == [("SUCCESSFUL", 7)] * 5


def test_postgres_batched_finish_finds_its_rows_through_an_index(pg):
    backend = task_backends[pg]
    task = tasks.add.using(backend=pg)
    for i in range(3000):
        backend.broker.enqueue(backend.new_job(task, [i, i], {}))
    broker = backend.broker
    now = timezone.now()
    claimed = broker.claim("w1", [], 2, now, now + timedelta(minutes=1))
    rows = [(uuid.UUID(job.id), "w1", job.attempts, "SUCCESSFUL", now, None, "2", None) for job in claimed]
    with connections[pg].cursor() as cursor:
        cursor.execute("ANALYZE backroom_job")
        cursor.execute("EXPLAIN " + broker.sql.finish(len(rows)), broker.dialect.rows_params(rows))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The primary key, or the status index (few rows are RUNNING): never a walk of the table.
    assert "Index Scan" in plan, plan
    assert "Seq Scan" not in plan, plan
