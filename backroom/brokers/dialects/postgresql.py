"""PostgreSQL: jsonb, FOR UPDATE SKIP LOCKED, and NOTIFY on enqueue."""

from collections.abc import Sequence
from typing import Any

vendor = "postgresql"
default_poll_interval_seconds = 5.0  # LISTEN/NOTIFY wakes workers; polling finds delayed jobs
skip_locked = " FOR UPDATE SKIP LOCKED"
json_param = "%s::jsonb"
is_same = "IS NOT DISTINCT FROM"  # null-safe equality
text_param = "%s::text"

#: The channel enqueue notifies and idle workers listen on; the payload is the queue name.
CHANNEL = "backroom"


def json(value_sql: str) -> str:
    return f"{value_sql}::jsonb"


def rows(sql_types: Sequence[str], count: int) -> str:
    """A table of rows passed as one array per column: the same statement text for any count."""
    arrays = ", ".join(f"%s::{sql_type}[]" for sql_type in sql_types)
    return f"SELECT * FROM unnest({arrays})"


def rows_params(rows: Sequence[Sequence[Any]]) -> list[Any]:
    return [list(column) for column in zip(*rows, strict=True)]


def json_append(column: str, value_sql: str) -> str:
    return f"{column} || jsonb_build_array({value_sql})"


def json_pop(column: str) -> str:
    return f"({column} - (-1))"


def insert_returning(insert_sql: str) -> str:
    """Wrap the INSERT so that the NOTIFY rides in the same round trip and transaction."""
    return (
        f"WITH job AS ({insert_sql} RETURNING queue_name) SELECT pg_notify('{CHANNEL}', queue_name) FROM job"
    )


def insert_many(columns: str, shared_values: str, rows: int) -> str:
    """Insert jobs from three parameters (ids, args, kwargs), then NOTIFY their queue once.

    The ids come as one array literal and the arguments as one JSON array
    each, made by joining texts already encoded: nothing to adapt per row.
    The NOTIFY rides in the same statement, so it fires when the rows commit.
    """
    return (
        f"WITH job AS (INSERT INTO backroom_job ({columns}) "
        f"SELECT u.id, {shared_values.format(args='u.args', kwargs='u.kwargs')} "
        "FROM ROWS FROM (unnest(%s::uuid[]), jsonb_array_elements(%s::jsonb), "
        "jsonb_array_elements(%s::jsonb)) AS u(id, args, kwargs)) "
        f"SELECT pg_notify('{CHANNEL}', %s)"
    )


def insert_many_params(
    shared: list[Any], ids: list[str], args: list[str], kwargs: list[str], queue: str
) -> list[Any]:
    return [*shared, f"{{{','.join(ids)}}}", f"[{','.join(args)}]", f"[{','.join(kwargs)}]", queue]


def batch_rows(connection: Any, shared_params: int) -> int:
    """Rows per INSERT: enough to cost little per row, few enough to keep each statement short."""
    return 1000


def listen(connection, wake, stop) -> None:  # type: ignore[no-untyped-def]
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
