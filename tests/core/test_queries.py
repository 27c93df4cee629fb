"""Hot paths cost one statement each, and the claim walks only the queue it serves."""

import sqlite3
import uuid
from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import backroom
from backroom.brokers.contract import Transition, WorkerInfo
from backroom.jobs.records import JobStatus
from tests import tasks
from tests.support import store_of


def test_enqueue_is_one_statement(sql_store):
    task = tasks.add.using(backend=sql_store)
    task.enqueue(0, 0)  # warm up: imports, connection
    with CaptureQueriesContext(connections[sql_store]) as queries:
        task.enqueue(1, 2)
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert "INTO backroom_job" in queries[0]["sql"]


def test_enqueue_goes_through_djangos_execute_wrappers(sql_store):
    """What hooks Django's cursor (connection.execute_wrapper) sees each enqueue, one by one and many."""
    seen = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    task = tasks.add.using(backend=sql_store)
    with connections[sql_store].execute_wrapper(record):
        task.enqueue(1, 2)
        backroom.enqueue_many(task, [((3, 4), {}), ((5, 6), {})])
    assert len([sql for sql in seen if "INTO backroom_job" in sql]) == 2, seen


def test_claim_is_one_statement_for_a_batch(sql_store):
    task = tasks.add.using(backend=sql_store)
    for i in range(5):
        task.enqueue(i, i)
    broker = store_of(sql_store).broker
    now = timezone.now()
    # As a worker claims: after its heartbeat, which found no limited job waiting (docs/limits.md).
    info = WorkerInfo(id="w1", hostname="h", pid=1, queues=[], concurrency=1, backend="", started_at=now)
    broker.heartbeat(info, now, now + timedelta(minutes=1))
    with CaptureQueriesContext(connections[sql_store]) as queries:
        claimed = broker.claim("w1", [], 10, now, now + timedelta(minutes=1))
    assert len(claimed) == 5
    statements = [
        q["sql"] for q in queries if not q["sql"].startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT"))
    ]
    # Where an UPDATE cannot return its rows (MariaDB, MySQL): the SELECT ... FOR UPDATE, then the UPDATE.
    assert len(statements) == (1 if broker.db.dialect.update_returning else 2), statements


def _plan(alias, sql, params):
    with connections[alias].cursor() as cursor:
        cursor.execute("ANALYZE backroom_job")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_postgres_claim_walks_only_the_queues_it_serves(pg):
    """A backlog in one queue must not slow the workers of another (the bulk queue here is deep)."""
    broker = store_of(pg).broker
    jobs = store_of(pg).jobs
    for queue, count in [("bulk", 3000), ("default", 20), ("emails", 20)]:
        broker.enqueue_many(
            jobs.new_jobs(tasks.add.using(backend=pg, queue_name=queue), [((1, 1), {})] * count)[0]
        )
    broker.enqueue_many(jobs.new_jobs(tasks.add.using(backend=pg, priority=-5), [((1, 1), {})] * 3000)[0])
    now = broker.db.time(timezone.now())
    sql = broker.db.sql
    for queues, index in [((), "backroom_job_ready"), (("default",), "backroom_job_ready_queue"),
                          (("default", "emails"), "backroom_job_ready_queue")]:  # fmt: skip
        params = ["w", now, *broker.db.dialect.claim_pick_params(now, queues, 10)]
        plan = _plan(pg, sql.claim(len(queues)), params)
        assert index in plan, plan
        assert "Seq Scan on backroom_job " not in plan, plan  # (the paused queues' tiny table is read once)
        assert "Rows Removed by Filter" not in plan and "Sort" not in plan.split("->")[1], plan


#: What ANALYZE wrote on bench/grown.py's SQLite store: 1,000,000 SUCCESSFUL and 100,000 READY jobs, all
#: in "reports". One average per column: to SQLite, "queue_name = ?" narrows nothing down.
GROWN_SQLITE_STATS = [
    ("backroom_job", "sqlite_autoindex_backroom_job_1", "1100000 1"),
    ("backroom_job", "backroom_job_ready", "100000 100000 10000"),
    ("backroom_job", "backroom_job_ready_queue", "100000 100000 100000 10000"),
    ("backroom_job", "backroom_job_finished", "1000000 1000000 1000000"),
]


@pytest.fixture
def grown_sqlite(db):
    """The job table's schema in a database of its own, planned with the statistics of a grown store.

    SQLite plans from sqlite_stat1 alone, so its rows stand for the million; kept out of the test
    database, whose other tests must not be planned with them.
    """
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master "
            "WHERE tbl_name IN ('backroom_job', 'backroom_worker', 'backroom_paused_queue') "
            "AND sql IS NOT NULL ORDER BY rowid"
        )
        schema = [row[0] for row in cursor.fetchall()]
    grown = sqlite3.connect(":memory:")
    for ddl in schema:
        grown.execute(ddl)
    grown.execute("ANALYZE")  # creates sqlite_stat1
    grown.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", GROWN_SQLITE_STATS)
    grown.execute("ANALYZE sqlite_schema")  # loads them
    yield grown
    grown.close()


def _sqlite_plan(grown, sql, params):
    """EXPLAIN QUERY PLAN's lines that read the job table."""
    rows = grown.execute("EXPLAIN QUERY PLAN " + sql.replace("%s", "?"), params).fetchall()
    return [row[-1] for row in rows if "backroom_job " in row[-1] + " "]


def test_sqlite_claim_walks_only_the_queues_it_serves(grown_sqlite):
    """A backlog in one queue must not slow the workers of another, however ANALYZE sees the queues.

    Left to its statistics, SQLite walked backroom_job_ready through the 100,000 READY jobs of
    "reports" on every claim of "default" (about 500,000 VM steps, 50 ms, instead of 1,000).
    """
    broker = store_of("default").broker
    now = broker.db.time(timezone.now())
    for queues, index in [((), "backroom_job_ready"), (("default",), "backroom_job_ready_queue"),
                          (("default", "emails"), "backroom_job_ready_queue")]:  # fmt: skip
        params = ["w", now, *broker.db.dialect.claim_pick_params(now, queues, 10)]
        plan = _sqlite_plan(grown_sqlite, broker.db.sql.claim(len(queues)), params)
        picks = [line for line in plan if "(id=?)" not in line]  # the UPDATE finds the picked rows by id
        assert picks and all(f"SEARCH backroom_job USING INDEX {index} (" in line for line in picks), plan
        if len(queues) == 1:
            assert picks == [f"SEARCH backroom_job USING INDEX {index} (queue_name=?)"], plan


def test_sqlite_worker_statements_read_only_the_rows_they_need(grown_sqlite):
    """What a worker runs besides the claim finds its rows by id or holder, or reads held jobs only."""
    db = store_of("default").broker.db
    sql, dialect, now = db.sql, db.dialect, db.time(timezone.now())
    job = uuid.uuid4().hex
    outcome = (job, "w", 1, "SUCCESSFUL", now, now, None, "2", None, False)
    statements = {
        "record": (sql.record(4), dialect.table_params([outcome] * 4)),
        "release": (sql.release(2), dialect.table_params([(job, "w", 1, True, False)] * 2)),
        "extend leases": (sql.extend_leases(3), [now, "w", job, job, job]),
        "held by": (sql.held_by(2), ["w", "v"]),
        "select by ids": (sql.select_by_ids(3), [job] * 3),
        "set progress": (sql.set_progress, ["1", job, 1, 1]),
        "cancel requested": (sql.cancel_requested, [job]),
        "expired": (sql.expired, [now, 500]),
    }
    for name, (statement, params) in statements.items():
        plan = _sqlite_plan(grown_sqlite, statement, params)
        # The reaper's scan is of backroom_job_held, which holds the held jobs only.
        read = [line for line in plan if line != "SCAN backroom_job USING INDEX backroom_job_held"]
        assert plan and all(line.startswith("SEARCH backroom_job USING ") for line in read), (name, plan)


def test_a_batch_of_starts_and_outcomes_is_one_statement(sql_store):
    task = tasks.add.using(backend=sql_store)
    ids = [task.enqueue(i, i).id for i in range(5)]
    broker = store_of(sql_store).broker
    now = timezone.now()
    claimed = broker.claim("w1", [], 10, now, now + timedelta(minutes=1))
    outcomes = [
        Transition(
            job_id=job.id,
            queue_name=job.queue_name,
            attempt=1,
            status=JobStatus.SUCCESSFUL,
            started_at=now,
            finished_at=now,
            return_value="7",
        )
        for job in claimed
    ]
    with CaptureQueriesContext(connections[sql_store]) as queries:
        assert broker.record("w1", outcomes) == set()
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert [(broker.get(i).status, broker.get(i).return_value) for i in ids] == [("SUCCESSFUL", 7)] * 5


def test_postgres_batched_outcomes_find_their_rows_through_an_index(pg):
    broker = store_of(pg).broker
    jobs = store_of(pg).jobs
    broker.enqueue_many(jobs.new_jobs(tasks.add.using(backend=pg), [((1, 1), {})] * 3000)[0])
    now = timezone.now()
    claimed = broker.claim("w1", [], 2, now, now + timedelta(minutes=1))
    db = broker.db
    rows = [(uuid.UUID(job.id), "w1", 1, "SUCCESSFUL", now, now, None, "2", None, False) for job in claimed]
    plan = _plan(pg, db.sql.record(len(rows)), db.dialect.table_params(rows))
    assert "Index Scan" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_mariadb_claim_walks_only_the_queue_it_serves(maria):
    """No partial indexes: the claim's index leads with status and holder, then the queue and order."""
    broker = store_of(maria).broker
    jobs = store_of(maria).jobs
    for queue, count in [("bulk", 3000), ("default", 20)]:
        broker.enqueue_many(
            jobs.new_jobs(tasks.add.using(backend=maria, queue_name=queue), [((1, 1), {})] * count)[0]
        )
    now = broker.db.time(timezone.now())
    with connections[maria].cursor() as cursor:
        cursor.execute("ANALYZE TABLE backroom_job")
        for queues in [(), ("default",)]:
            params = broker.db.dialect.claim_pick_params(now, queues, 10)
            cursor.execute("EXPLAIN " + broker.db.sql.claim(len(queues)), params)
            columns = [c[0] for c in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            [plan] = [row for row in rows if row["table"] == "backroom_job"]  # beside the paused queues
            assert plan["key"] in ("backroom_job_ready", "backroom_job_ready_queue"), plan
            assert "filesort" not in (plan["Extra"] or ""), plan
            if queues:
                assert plan["key"] == "backroom_job_ready_queue" and int(plan["rows"]) < 100, plan


def test_postgres_prepares_enqueue_and_claim_when_the_site_allows_it(pg):
    """With Django's OPTIONS["prepare_threshold"] set, the two statements a pickup waits on are prepared."""
    connection = connections[pg]
    connection.ensure_connection()
    connection.connection.prepare_threshold = 0  # as OPTIONS={"prepare_threshold": 0} would set it
    try:
        task = tasks.add.using(backend=pg)
        task.enqueue(1, 2)
        now = timezone.now()
        assert len(store_of(pg).broker.claim("w1", ["default"], 1, now, now + timedelta(minutes=1))) == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            prepared = [row[0] for row in cursor.fetchall()]
    finally:
        connection.connection.prepare_threshold = None
    assert any("INSERT INTO backroom_job" in sql for sql in prepared), prepared
    assert any(sql.startswith("UPDATE backroom_job SET worker_id") for sql in prepared), prepared
