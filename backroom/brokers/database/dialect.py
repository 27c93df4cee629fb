"""What differs between SQL databases: fragments, capabilities, indexes and wake-ups.

``Dialect`` holds the standard form (what PostgreSQL and SQLite share); each
vendor module overrides what its database says differently. Statements are
assembled from these pieces in ``statements.py`` and nowhere else.
"""

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper

#: The names of the paused queues, whose jobs a claim leaves where they are.
PAUSED_QUEUES = "SELECT queue_name FROM backroom_paused_queue"
#: A ready job a claim may take: due, not held by a worker, and not in a paused queue.
READY = (
    f"status = 'READY' AND worker_id IS NULL AND available_at <= %s AND queue_name NOT IN ({PAUSED_QUEUES})"
)
#: A table of rows the statements join against: (column name, SQL type) in order.
Columns = Sequence[tuple[str, str]]


def placeholders(count: int) -> str:
    """``count`` parameters, comma-separated: a list of values in a statement."""
    return ", ".join(["%s"] * count)


class Dialect:
    """The standard SQL backroom writes; vendors override what they say otherwise."""

    vendor: ClassVar[str]
    #: How often an idle worker polls when nothing wakes it.
    default_poll_interval_seconds: ClassVar[float]
    #: Appended to a row-picking SELECT so that concurrent claims skip each other's rows.
    skip_locked: ClassVar[str] = " FOR UPDATE SKIP LOCKED"
    #: Whether an UPDATE can return the rows it changed (else they are read in the same transaction).
    update_returning: ClassVar[bool] = True
    #: A parameter holding JSON text, as the column's type wants it.
    json_param: ClassVar[str] = "%s"
    #: Null-safe equality.
    is_same: ClassVar[str] = "IS NOT DISTINCT FROM"
    #: How an INSERT says "skip this row if it breaks a unique index".
    insert_ignore: ClassVar[tuple[str, str]] = ("INSERT INTO", " ON CONFLICT DO NOTHING")
    #: Appended to a SELECT that reads rows the transaction goes on to change (their latest version).
    lock_rows: ClassVar[str] = " FOR UPDATE"
    #: Appended to the row-picking SELECT of a bounded DELETE.
    delete_lock: ClassVar[str] = " FOR UPDATE SKIP LOCKED"
    #: Run first in a transaction whose commit need not wait for the disk (None where a session cannot
    #: choose): pruning's deletes, which a crash may undo harmlessly (the next pruning deletes them again).
    commit_without_flush: ClassVar[str | None] = None
    true: ClassVar[str] = "true"
    false: ClassVar[str] = "false"

    #: SQL fragments, as templates: a JSON value from text ``{value}``; the JSON array ``{column}`` with
    #: the JSON value ``{value}`` appended, and without its last element; a JSON column read back as
    #: text; a time column as a job row is read (as the driver returns it, for the codec to parse); an
    #: integer column as the job reader takes it; a boolean usable in arithmetic as 0 or 1.
    json_of: ClassVar[str] = "{value}"
    json_appended: ClassVar[str]
    json_popped: ClassVar[str]
    json_as_text: ClassVar[str] = "{column}"
    time_read: ClassVar[str] = "{column}"
    count_read: ClassVar[str] = "{column}"
    boolean_of: ClassVar[str] = "CAST({value} AS INTEGER)"

    def json(self, value_sql: str) -> str:
        return self.json_of.format(value=value_sql)

    def json_append(self, column: str, value_sql: str) -> str:
        return self.json_appended.format(column=column, value=value_sql)

    def json_pop(self, column: str) -> str:
        return self.json_popped.format(column=column)

    def json_text(self, column: str) -> str:
        return self.json_as_text.format(column=column)

    def read_time(self, column: str) -> str:
        return self.time_read.format(column=column)

    def count(self, column: str) -> str:
        return self.count_read.format(column=column)

    def boolean(self, value_sql: str) -> str:
        return self.boolean_of.format(value=value_sql)

    def table(self, columns: Columns, count: int) -> str:
        """A derived table ``t`` of ``count`` parameter rows, its columns named as ``columns`` says."""
        row = f"({placeholders(len(columns))})"
        names = ", ".join(f"column{i} AS {name}" for i, (name, _) in enumerate(columns, start=1))
        return f"(SELECT {names} FROM (VALUES {', '.join([row] * count)})) AS t"

    def table_params(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        return [value for row in rows for value in row]

    def insert_many(self, columns: str, shared: str, count: int) -> str:
        """Insert ``count`` jobs from a table of (t_id, t_args, t_kwargs) rows and ``shared`` values."""
        table = self.table((("t_id", "uuid"), ("t_args", "text"), ("t_kwargs", "text")), count)
        return f"INSERT INTO backroom_job ({columns}) SELECT t.t_id, {shared} FROM {table}"

    def insert_many_params(
        self, shared: list[Any], ids: list[str], args: list[str], kwargs: list[str], queue: str
    ) -> list[Any]:
        return [*shared, *itertools.chain.from_iterable(zip(ids, args, kwargs, strict=True))]

    def update_from(self, table: str, assignments: str, condition: str) -> str:
        """UPDATE backroom_job joined to a derived ``table``, where ``condition`` holds.

        ``assignments`` read only the column each one sets (and ``t``), so
        they mean the same whether a database applies them together or in turn.
        """
        return f"UPDATE backroom_job SET {assignments} FROM {table} WHERE {condition}"

    def upsert(self, insert_sql: str, key: str, updated: Sequence[str]) -> str:
        """An INSERT that updates ``updated`` columns when a row with its ``key`` is already there."""
        sets = ", ".join(f"{column} = excluded.{column}" for column in updated)
        return f"{insert_sql} ON CONFLICT ({key}) DO UPDATE SET {sets}"

    def returning(self, sql: str, columns: str) -> str:
        """``sql`` returning ``columns`` of the rows it wrote (only where ``update_returning``)."""
        return f"{sql} RETURNING {columns}"

    def with_notify(self, sql: str) -> str:
        """Wrap a statement that writes ready jobs so that it also wakes their queue's idle workers."""
        return sql

    def claim_pick(self, queue_count: int, columns: str, excluded: int = 0) -> str:
        """SELECT ``columns`` of the best ready, unheld, unlimited jobs: params now, queues..., limit.

        ``excluded``: with no queue named (every queue), leave out that many
        queues (those with limits, which the limited pass claims); params
        now, excluded..., limit.
        """
        ready = f"{READY} AND limit_key IS NULL"
        order = "ORDER BY priority DESC, available_at LIMIT %s"
        if queue_count <= 1:
            queue = " AND queue_name = %s" if queue_count else ""
            if excluded and not queue_count:
                queue = f" AND queue_name NOT IN ({placeholders(excluded)})"
            jobs = self.ready_jobs(by_queue=bool(queue_count))
            return f"SELECT {columns} FROM {jobs} WHERE {ready}{queue} {order}{self.skip_locked}"
        return self.claim_pick_queues(queue_count, columns, ready, order)

    def ready_jobs(self, *, by_queue: bool) -> str:
        """The job table as a claim reads it; ``by_queue`` when it picks from one named queue."""
        return "backroom_job"

    def claim_pick_queues(self, queue_count: int, columns: str, ready: str, order: str) -> str:
        """Several queues: each queue's best through its index, then the best of those."""
        raise NotImplementedError

    def claim_pick_params(
        self, now: Any, queues: Sequence[str], limit: int, excluded: Sequence[str] = ()
    ) -> list[Any]:
        if len(queues) <= 1:
            return [now, *queues, *([] if queues else excluded), limit]
        return [param for queue in queues for param in (now, queue, limit)] + [limit]

    def batch_rows(self, connection: BaseDatabaseWrapper, params_per_row: int, shared_params: int) -> int:
        """Rows per multi-row statement: as many as the database's parameter limit allows, up to 1,000."""
        limit = connection.features.max_query_params
        if limit is None:
            return 1000
        return max(1, min(1000, (limit - shared_params) // params_per_row))

    def index_ddl(self) -> list[str]:
        """CREATE INDEX statements for the job table: partial, so each holds only the rows it serves."""
        ready = "WHERE status = 'READY' AND worker_id IS NULL"
        return [
            f"CREATE INDEX backroom_job_ready ON backroom_job (priority DESC, available_at) {ready}",
            "CREATE INDEX backroom_job_ready_queue ON backroom_job "
            f"(queue_name, priority DESC, available_at) {ready}",
            "CREATE INDEX backroom_job_held ON backroom_job (lease_expires_at) "
            "WHERE worker_id IS NOT NULL OR status = 'RUNNING'",
            "CREATE INDEX backroom_job_holder ON backroom_job (worker_id) WHERE worker_id IS NOT NULL",
            "CREATE INDEX backroom_job_finished ON backroom_job (status, finished_at) "
            "WHERE finished_at IS NOT NULL",
            "CREATE INDEX backroom_job_failed_task ON backroom_job (task_path) WHERE status = 'FAILED'",
            "CREATE UNIQUE INDEX backroom_job_unique_active ON backroom_job (unique_key) "
            "WHERE unique_key IS NOT NULL AND status IN ('READY', 'RUNNING')",
        ]

    def drop_index_ddl(self) -> list[str]:
        return [f"DROP INDEX IF EXISTS {name}" for name in INDEX_NAMES]

    def limit_index_ddl(self) -> list[str]:
        """The indexes of limited jobs: the ready ones of a group in claim order, and the held ones."""
        return [
            "CREATE INDEX backroom_job_limited ON backroom_job (limit_key, priority DESC, available_at) "
            "WHERE status = 'READY' AND worker_id IS NULL AND limit_key IS NOT NULL",
            "CREATE INDEX backroom_job_limit_held ON backroom_job (limit_key) "
            "WHERE worker_id IS NOT NULL AND limit_key IS NOT NULL",
        ]

    def drop_limit_index_ddl(self) -> list[str]:
        return [f"DROP INDEX IF EXISTS {name}" for name in LIMIT_INDEX_NAMES]

    def due_guard_ddl(self) -> list[str]:
        """Statements that keep a job whose due time is no time from reading READY forever (none needed).

        A typed time column refuses such a value; where a column takes any text, the database must see
        to it that the claim still reaches the job, so that the codec can fail it as corrupt.
        """
        return []

    def drop_due_guard_ddl(self) -> list[str]:
        return []

    def bound_cursor(self, connection: BaseDatabaseWrapper) -> Any:
        """Django's cursor, sending parameters apart from the statement where the driver can."""
        return connection.cursor()

    def lacks_schema(self, error: Exception) -> bool:
        """Whether a database error says backroom's tables or columns are missing (migrate not run)."""
        text = str(error)
        return "no such table" in text or "no such column" in text

    def tag_session(self, connection: BaseDatabaseWrapper, worker_id: str) -> None:
        """Mark the worker's session so that ``connected_workers_sql`` sees it while the process lives."""

    def connected_workers_sql(self, count: int) -> str | None:
        """A SELECT of which of ``count`` worker ids have a live session; None if the database cannot tell."""
        return None

    def connected_workers_params(self, worker_ids: Sequence[str]) -> list[Any]:
        return list(worker_ids)

    def listen(
        self, connection: BaseDatabaseWrapper, wake: Callable[[str], None], stop: threading.Event
    ) -> None:
        """Call ``wake(queue_name)`` for each wake-up until ``stop`` is set; return at once if none come."""


#: Every index of the job table that backroom creates itself (``index_ddl``).
INDEX_NAMES = (
    "backroom_job_ready",
    "backroom_job_ready_queue",
    "backroom_job_held",
    "backroom_job_holder",
    "backroom_job_finished",
    "backroom_job_failed_task",
    "backroom_job_unique_active",
)
#: The indexes migration 0006 adds for limited jobs (``limit_index_ddl``).
LIMIT_INDEX_NAMES = ("backroom_job_limited", "backroom_job_limit_held")
