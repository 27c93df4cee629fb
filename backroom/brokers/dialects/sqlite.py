"""SQLite: JSON as text, one writer at a time, so no row locks to skip."""

import itertools
from collections.abc import Sequence
from typing import Any

vendor = "sqlite"
default_poll_interval_seconds = 0.2  # no push notification; a local poll is cheap
skip_locked = ""
json_param = "json(%s)"
is_same = "IS"  # null-safe equality
text_param = "%s"


def json(value_sql: str) -> str:
    return f"json({value_sql})"


def rows(sql_types: Sequence[str], count: int) -> str:
    """A table of ``count`` rows as a VALUES list (SQLite has no arrays)."""
    row = "(" + ", ".join(["%s"] * len(sql_types)) + ")"
    return "VALUES " + ", ".join([row] * count)


def rows_params(rows: Sequence[Sequence[Any]]) -> list[Any]:
    return [value for row in rows for value in row]


def json_append(column: str, value_sql: str) -> str:
    # json_insert on anything but an array changes nothing: start a row edited into nonsense afresh.
    return (
        f"json_insert(CASE json_type({column}) WHEN 'array' THEN {column} ELSE '[]' END, '$[#]', {value_sql})"
    )


def json_pop(column: str) -> str:
    return f"json_remove({column}, '$[#-1]')"


def insert_returning(insert_sql: str) -> str:
    return f"{insert_sql} RETURNING queue_name"


def insert_many(columns: str, shared_values: str, rows: int) -> str:
    """Insert ``rows`` jobs from one multi-row VALUES list of (id, args, kwargs)."""
    values = ", ".join(["(%s, %s, %s)"] * rows)
    return (
        f"INSERT INTO backroom_job ({columns}) "
        f"SELECT column1, {shared_values.format(args='json(column2)', kwargs='json(column3)')} "
        f"FROM (VALUES {values})"
    )


def insert_many_params(
    shared: list[Any], ids: list[str], args: list[str], kwargs: list[str], queue: str
) -> list[Any]:
    return [*shared, *itertools.chain.from_iterable(zip(ids, args, kwargs, strict=True))]


def batch_rows(connection: Any, shared_params: int) -> int:
    """Rows per INSERT: as many as SQLite's limit on parameters allows, up to 1,000."""
    return max(1, min(1000, (connection.features.max_query_params - shared_params) // 3))


def listen(connection, wake, stop) -> None:  # type: ignore[no-untyped-def]
    """SQLite cannot push: return at once and let the worker poll."""
