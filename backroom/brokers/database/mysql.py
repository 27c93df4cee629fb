"""MariaDB 10.6+ and MySQL 8: SKIP LOCKED without UPDATE ... RETURNING, full indexes, polling.

Neither has partial indexes: the indexes lead with the columns the partial
ones filter on (status, worker_id), and a generated column holds the unique
key of active jobs only, so that a unique index on it allows one active job
per key. A worker's session holds a named lock (``GET_LOCK``), which the
server frees the moment the session ends.
"""

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from .dialect import INDEX_NAMES, LIMIT_INDEX_NAMES, Columns, Dialect, placeholders

#: The column holding ``unique_key`` while the job is active, NULL otherwise.
ACTIVE_KEY_COLUMN = "active_unique_key"


class MySQL(Dialect):
    vendor = "mysql"
    default_poll_interval_seconds = 0.2  # no push notification: polling is the wake-up
    update_returning = False
    is_same = "<=>"
    insert_ignore = ("INSERT IGNORE INTO", "")
    delete_lock = ""  # a locking read cannot sit in a DELETE's subquery

    json_of = "JSON_EXTRACT({value}, '$')"
    json_appended = (
        "JSON_ARRAY_APPEND(CASE WHEN JSON_TYPE({column}) = 'ARRAY' THEN {column} ELSE '[]' END, '$', {value})"
    )
    json_popped = "JSON_REMOVE({column}, CONCAT('$[', JSON_LENGTH({column}) - 1, ']'))"
    boolean_of = "CAST({value} AS SIGNED)"

    def table(self, columns: Columns, count: int) -> str:
        first = "SELECT " + ", ".join(f"%s AS {name}" for name, _ in columns)
        other = "SELECT " + placeholders(len(columns))
        return "(" + " UNION ALL ".join([first] + [other] * (count - 1)) + ") AS t"

    def update_from(self, table: str, assignments: str, condition: str) -> str:
        return f"UPDATE backroom_job JOIN {table} SET {assignments} WHERE {condition}"

    def upsert(self, insert_sql: str, key: str, updated: Sequence[str]) -> str:
        sets = ", ".join(f"{column} = VALUES({column})" for column in updated)
        return f"{insert_sql} ON DUPLICATE KEY UPDATE {sets}"

    def claim_pick_queues(self, queue_count: int, columns: str, ready: str, order: str) -> str:
        queues = placeholders(queue_count)
        where = f"{ready} AND queue_name IN ({queues})"
        return f"SELECT {columns} FROM backroom_job WHERE {where} {order}{self.skip_locked}"

    def claim_pick_params(
        self, now: Any, queues: Sequence[str], limit: int, excluded: Sequence[str] = ()
    ) -> list[Any]:
        return [now, *queues, *([] if queues else excluded), limit]

    def index_ddl(self) -> list[str]:
        return [
            "CREATE INDEX backroom_job_ready ON backroom_job "
            "(status, worker_id, priority DESC, available_at)",
            "CREATE INDEX backroom_job_ready_queue ON backroom_job "
            "(status, worker_id, queue_name, priority DESC, available_at)",
            "CREATE INDEX backroom_job_held ON backroom_job (lease_expires_at)",
            "CREATE INDEX backroom_job_holder ON backroom_job (worker_id)",
            "CREATE INDEX backroom_job_finished ON backroom_job (status, finished_at)",
            "CREATE INDEX backroom_job_failed_task ON backroom_job (status, task_path)",
            f"ALTER TABLE backroom_job ADD COLUMN {ACTIVE_KEY_COLUMN} varchar(255) AS "
            "(CASE WHEN status IN ('READY', 'RUNNING') THEN unique_key END) STORED",
            f"CREATE UNIQUE INDEX backroom_job_unique_active ON backroom_job ({ACTIVE_KEY_COLUMN})",
        ]

    def drop_index_ddl(self) -> list[str]:
        return [f"DROP INDEX {name} ON backroom_job" for name in INDEX_NAMES] + [
            f"ALTER TABLE backroom_job DROP COLUMN {ACTIVE_KEY_COLUMN}"
        ]

    def limit_index_ddl(self) -> list[str]:
        return [
            "CREATE INDEX backroom_job_limited ON backroom_job "
            "(status, worker_id, limit_key, priority DESC, available_at)",
            "CREATE INDEX backroom_job_limit_held ON backroom_job (limit_key, worker_id)",
        ]

    def drop_limit_index_ddl(self) -> list[str]:
        return [f"DROP INDEX {name} ON backroom_job" for name in LIMIT_INDEX_NAMES]

    def lacks_schema(self, error: Exception) -> bool:
        return bool(error.args) and error.args[0] in (1146, 1054)  # no such table, unknown column

    def tag_session(self, connection: BaseDatabaseWrapper, worker_id: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(CONCAT('backroom:', MD5(%s)), 0)", [worker_id])

    def connected_workers_sql(self, count: int) -> str | None:
        ids = placeholders(count)
        return (
            f"SELECT id FROM backroom_worker WHERE id IN ({ids}) "
            "AND IS_USED_LOCK(CONCAT('backroom:', MD5(id))) IS NOT NULL"
        )


dialect = MySQL()
