"""SQLite: JSON as text, one writer at a time (so no row locks to skip), partial indexes, polling."""

from .dialect import Dialect

#: The triggers of ``due_guard_ddl``: their names and the writes they watch.
DUE_GUARDS = {
    "backroom_job_due_guard_insert": "INSERT",
    "backroom_job_due_guard_update": "UPDATE OF available_at",
}


class SQLite(Dialect):
    vendor = "sqlite"
    default_poll_interval_seconds = 0.2  # no push notification; a local poll is cheap
    skip_locked = ""
    lock_rows = ""  # a writing transaction holds the whole database
    delete_lock = ""
    json_param = "json(%s)"
    is_same = "IS"

    # An expression has no declared type, so Django's converter (which raises on text shaped like a
    # time that is none, such as "2024-13-45T99:99") leaves it to the codec, which names the field.
    time_read = "+{column} AS {column}"
    # An INTEGER column keeps text that reads as no number (edited by hand) as text.
    count_read = "CASE typeof({column}) WHEN 'integer' THEN {column} ELSE 0 END"
    json_of = "json({value})"
    # json_insert on anything but an array changes nothing: start a value edited into nonsense afresh.
    json_appended = (
        "json_insert(CASE json_type({column}) WHEN 'array' THEN {column} ELSE '[]' END, '$[#]', {value})"
    )
    json_popped = "json_remove({column}, '$[#-1]')"

    def due_guard_ddl(self) -> list[str]:
        # Any text fits a SQLite column: "soon" written by hand sorts after every date, so no claim would
        # find the job due. Prefixed with "!", which sorts before every digit, it is due at once, the
        # claim takes it and the codec fails it (CorruptJob naming available_at), the text kept for reading.
        # Its first 19 characters are judged: julianday() refuses the fraction of 9999-12-31 23:59:59.999999.
        return [
            f"CREATE TRIGGER {name} AFTER {event} ON backroom_job "
            "WHEN NEW.available_at IS NOT NULL AND substr(NEW.available_at, 1, 1) <> '!' "
            "AND (typeof(NEW.available_at) = 'blob' OR julianday(substr(NEW.available_at, 1, 19)) IS NULL) "
            "BEGIN UPDATE backroom_job SET available_at = '!' || NEW.available_at WHERE id = NEW.id; END"
            for name, event in DUE_GUARDS.items()
        ]

    def drop_due_guard_ddl(self) -> list[str]:
        return [f"DROP TRIGGER IF EXISTS {name}" for name in DUE_GUARDS]

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
