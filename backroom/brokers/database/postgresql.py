"""PostgreSQL: jsonb, FOR UPDATE SKIP LOCKED, partial indexes, NOTIFY on enqueue."""

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from .dialect import Columns, Dialect, placeholders

#: The channel enqueue notifies and idle workers listen on; the payload is the queue name.
CHANNEL = "backroom"
#: How a worker's session is named in pg_stat_activity (application_name): the prefix, then its id.
SESSION_PREFIX = "backroom:"


class PostgreSQL(Dialect):
    vendor = "postgresql"
    default_poll_interval_seconds = 5.0  # LISTEN/NOTIFY wakes workers; polling finds delayed jobs
    json_param = "%s::jsonb"
    commit_without_flush = "SET LOCAL synchronous_commit = off"

    json_of = "{value}::jsonb"
    json_appended = "{column} || jsonb_build_array({value})"
    json_popped = "({column} - (-1))"
    json_as_text = "{column}::text"

    def table(self, columns: Columns, count: int) -> str:
        """One array per column: the same statement text (prepared once) for any number of rows."""
        arrays = ", ".join(f"%s::{sql_type}[]" for _, sql_type in columns)
        names = ", ".join(name for name, _ in columns)
        return f"unnest({arrays}) AS t ({names})"

    def table_params(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        return [list(column) for column in zip(*rows, strict=True)]

    def insert_many(self, columns: str, shared: str, count: int) -> str:
        """Insert jobs from three parameters (ids, args, kwargs), then NOTIFY their queue once.

        The ids come as one array literal and the arguments as one JSON array
        each, made by joining texts already encoded: nothing to adapt per row.
        The statement text is the same for any count.
        """
        return (
            f"WITH job AS (INSERT INTO backroom_job ({columns}) SELECT t.t_id, {shared} "
            "FROM ROWS FROM (unnest(%s::uuid[]), jsonb_array_elements(%s::jsonb), "
            "jsonb_array_elements(%s::jsonb)) AS t (t_id, t_args, t_kwargs)) "
            f"SELECT pg_notify('{CHANNEL}', %s)"
        )

    def insert_many_params(
        self, shared: list[Any], ids: list[str], args: list[str], kwargs: list[str], queue: str
    ) -> list[Any]:
        return [*shared, f"{{{','.join(ids)}}}", f"[{','.join(args)}]", f"[{','.join(kwargs)}]", queue]

    def batch_rows(self, connection: BaseDatabaseWrapper, params_per_row: int, shared_params: int) -> int:
        return 1000  # the arrays are one parameter each: only the statement's size bounds a batch

    def with_notify(self, sql: str) -> str:
        """The NOTIFY rides in the same statement, so it fires when the rows commit."""
        return f"WITH job AS ({sql} RETURNING queue_name) SELECT pg_notify('{CHANNEL}', queue_name) FROM job"

    def claim_pick_queues(self, queue_count: int, columns: str, ready: str, order: str) -> str:
        """Each queue's best through backroom_job_ready_queue (a lateral join per name), then the best."""
        names = ", ".join(["(%s)"] * queue_count)
        return (
            f"SELECT pick.id FROM (VALUES {names}) AS q (name) CROSS JOIN LATERAL "
            f"(SELECT id, priority, available_at FROM backroom_job WHERE {ready} AND queue_name = q.name "
            f"{order}{self.skip_locked}) AS pick ORDER BY pick.priority DESC, pick.available_at LIMIT %s"
        )

    def claim_pick_params(
        self, now: Any, queues: Sequence[str], limit: int, excluded: Sequence[str] = ()
    ) -> list[Any]:
        if len(queues) <= 1:
            return super().claim_pick_params(now, queues, limit, excluded)
        return [*queues, now, limit, limit]

    def bound_cursor(self, connection: BaseDatabaseWrapper) -> Any:
        """Django's cursor wrapper (its execute wrappers, query log, errors) around a psycopg cursor
        that binds on the server, whatever the connection's cursor_factory.

        Django's default cursor renders every parameter into the statement's
        text in Python. Whether statements are prepared stays the
        connection's setting (OPTIONS["prepare_threshold"], off by default,
        as connection poolers want).
        """
        # Imported here: this module loads whichever database a site uses, with or without a driver.
        from django.db.backends.postgresql.psycopg_any import is_psycopg3

        if not is_psycopg3:
            return connection.cursor()
        import psycopg

        connection.close_if_health_check_failed()
        with connection.wrap_database_errors:
            connection.ensure_connection()
        connection.validate_thread_sharing()
        # django-stubs say these take Django's wrapper; they take the driver's cursor, as Django passes them.
        cursor: Any = psycopg.Cursor(connection.connection)
        return (
            connection.make_debug_cursor(cursor)
            if connection.queries_logged
            else connection.make_cursor(cursor)
        )

    def lacks_schema(self, error: Exception) -> bool:
        return getattr(error.__cause__, "sqlstate", None) in ("42P01", "42703")  # undefined table, column

    def tag_session(self, connection: BaseDatabaseWrapper, worker_id: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('application_name', %s, false)", [SESSION_PREFIX + worker_id])

    def connected_workers_sql(self, count: int) -> str | None:
        return (
            "SELECT DISTINCT substr(application_name, %s) FROM pg_stat_activity "
            f"WHERE application_name IN ({placeholders(count)})"
        )

    def connected_workers_params(self, worker_ids: Sequence[str]) -> list[Any]:
        return [len(SESSION_PREFIX) + 1, *(SESSION_PREFIX + worker_id for worker_id in worker_ids)]

    def listen(
        self, connection: BaseDatabaseWrapper, wake: Callable[[str], None], stop: threading.Event
    ) -> None:
        """Call ``wake(queue_name)`` for each NOTIFY until ``stop`` is set.

        ``connection`` is this thread's Django connection; it stays in LISTEN and
        is used for nothing else. Errors propagate: the caller reconnects.
        """
        connection.ensure_connection()
        raw = connection.connection
        # Calls on the raw connection bypass Django's cursor: translate psycopg's errors
        # into Django's here, or a lost server would kill the listener thread.
        with connection.wrap_database_errors:
            raw.execute(f"LISTEN {CHANNEL}")
            while not stop.is_set():
                for notification in raw.notifies(timeout=0.5):
                    wake(notification.payload)


dialect = PostgreSQL()
