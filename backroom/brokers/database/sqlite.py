"""SQLite: JSON as text, one writer at a time (so no row locks to skip), partial indexes, polling."""

from .dialect import Dialect


class SQLite(Dialect):
    vendor = "sqlite"
    default_poll_interval_seconds = 0.2  # no push notification; a local poll is cheap
    skip_locked = ""
    lock_rows = ""  # a writing transaction holds the whole database
    delete_lock = ""
    json_param = "json(%s)"
    is_same = "IS"

    def read_time(self, column: str) -> str:
        # An expression has no declared type, so Django's converter (which raises on text shaped like a
        # time that is none, such as "2024-13-45T99:99") leaves it to the codec, which names the field.
        return f"+{column} AS {column}"

    def count(self, column: str) -> str:
        # An INTEGER column keeps text that reads as no number (edited by hand) as text.
        return f"CASE typeof({column}) WHEN 'integer' THEN {column} ELSE 0 END"

    def json(self, value_sql: str) -> str:
        return f"json({value_sql})"

    def json_append(self, column: str, value_sql: str) -> str:
        # json_insert on anything but an array changes nothing: start a value edited into nonsense afresh.
        return (
            f"json_insert(CASE json_type({column}) WHEN 'array' THEN {column} ELSE '[]' END, "
            f"'$[#]', {value_sql})"
        )

    def json_pop(self, column: str) -> str:
        return f"json_remove({column}, '$[#-1]')"

    def ready_jobs(self, *, by_queue: bool) -> str:
        # Named: ANALYZE keeps one average of rows per queue_name, so with one deep queue and few others
        # "queue_name = ?" looks no narrower than no filter, and the planner would walk backroom_job_ready
        # through the whole backlog of the other queue, row by row, on every claim.
        return "backroom_job INDEXED BY backroom_job_ready_queue" if by_queue else "backroom_job"

    def claim_pick_queues(self, queue_count: int, columns: str, ready: str, order: str) -> str:
        """Each queue's best through backroom_job_ready_queue (one pick per queue), then the best of those."""
        one = (
            f"SELECT * FROM (SELECT id, priority, available_at FROM {self.ready_jobs(by_queue=True)} "
            f"WHERE {ready} AND queue_name = %s {order})"
        )
        picks = " UNION ALL ".join([one] * queue_count)
        return f"SELECT id FROM ({picks}) ORDER BY priority DESC, available_at LIMIT %s"


dialect = SQLite()
