"""Every SQL statement backroom runs on a database, assembled once per dialect.

The texts are written here once; what a vendor says differently comes from
its ``Dialect``. Statements that take a variable number of rows or queues
are built per count and cached, so each count is parsed (or prepared) once.
"""

import functools

from .dialect import READY, Columns, Dialect, placeholders

#: The columns of a job as the codec reads them, in this order.
JOB_COLUMNS: tuple[str, ...] = (
    "id", "task_path", "queue_name", "priority", "status", "args", "kwargs", "run_after",
    "available_at", "enqueued_at", "started_at", "last_attempted_at", "finished_at", "attempts",
    "max_attempts", "timeout_seconds", "retry", "unique_key", "worker_id", "worker_ids", "errors",
    "return_value", "progress", "cancel_requested", "orphaned", "expires_at", "links", "waiting_for",
    "limit_key", "concurrency_limit", "rate_limit",
)  # fmt: skip
TIME_COLUMNS = frozenset((
    "run_after", "available_at", "enqueued_at", "started_at", "last_attempted_at", "finished_at",
    "expires_at",
))  # fmt: skip
#: The columns a new job is inserted with; the rest take their defaults or NULL.
INSERT_COLUMNS: tuple[str, ...] = (
    "id", "task_path", "queue_name", "priority", "status", "args", "kwargs", "run_after",
    "available_at", "enqueued_at", "attempts", "max_attempts", "timeout_seconds", "retry", "unique_key",
    "worker_ids", "errors", "cancel_requested", "orphaned", "expires_at", "links", "waiting_for",
    "limit_key", "concurrency_limit", "rate_limit",
)  # fmt: skip
#: A batch of transitions (see contract.Transition), one row each.
TRANSITION_COLUMNS: Columns = (
    ("t_id", "uuid"), ("t_owner", "text"), ("t_attempt", "integer"), ("t_status", "text"),
    ("t_started_at", "timestamptz"), ("t_finished_at", "timestamptz"), ("t_available_at", "timestamptz"),
    ("t_return_value", "text"), ("t_error", "text"), ("t_lost", "boolean"),
)  # fmt: skip
#: A batch of jobs handed back, one row each.
RELEASE_COLUMNS: Columns = (
    ("t_id", "uuid"), ("t_owner", "text"), ("t_attempt", "integer"), ("t_started", "boolean"),
    ("t_lost", "boolean"),
)  # fmt: skip
#: Jobs whose messages RabbitMQ confirmed, one row each: the id, and the available_at published for.
DISPATCH_COLUMNS: Columns = (("t_id", "uuid"), ("t_available_at", "timestamptz"))
#: The held jobs the reaper looks at.
HELD_COLUMNS = "id, queue_name, task_path, worker_id, status, attempts, max_attempts, links"
WORKER_COLUMNS = (
    "id", "hostname", "pid", "queues", "concurrency", "backend", "started_at", "last_heartbeat_at",
    "abandoned_threads",
)  # fmt: skip

# A retry from the dashboard or the CLI: READY now, a clean slate for the next attempt, and room for it.
_RETRY_SET = (
    "status = 'READY', available_at = %s, finished_at = NULL, return_value = NULL, progress = NULL, "
    "cancel_requested = {false}, worker_id = NULL, lease_expires_at = NULL, "
    "max_attempts = CASE WHEN max_attempts > attempts THEN max_attempts ELSE attempts + 1 END"
)


class ForCount:
    """A statement over a list of values (``{values}`` in its text): called with a count, its text for it.

    Each count's text is made once, so it is parsed (or prepared) once too.
    """

    def __init__(self, template: str) -> None:
        self.template = template

    @functools.cache  # noqa: B019 - one per statement, kept for the process
    def __call__(self, count: int) -> str:
        return self.template.format(values=placeholders(count))


def _queue_filter(queue_count: int, excluded: int) -> str:
    """Only jobs of ``queue_count`` queues (0: any), and none of ``excluded`` ones."""
    found = f" AND queue_name IN ({placeholders(queue_count)})" if queue_count else ""
    return found + (f" AND queue_name NOT IN ({placeholders(excluded)})" if excluded else "")


class Statements:
    """The SQL of one dialect."""

    def __init__(self, d: Dialect) -> None:
        self.dialect = d
        columns = ", ".join(d.read_time(name) if name in TIME_COLUMNS else name for name in JOB_COLUMNS)
        self.job_columns = columns
        insert, ignore = d.insert_ignore
        values = (
            f"%s, %s, %s, %s, 'READY', {d.json_param}, {d.json_param}, %s, %s, %s, 0, %s, %s, "
            f"{d.json_param}, %s, '[]', '[]', {d.false}, 0, %s, {d.json_param}, %s, %s, %s, %s"
        )
        # A job without a unique key cannot conflict (its id is new): the plain INSERT skips the
        # speculative insertion and the check of every unique index that a conflict clause costs.
        self.insert = d.with_notify(
            f"INSERT INTO backroom_job ({', '.join(INSERT_COLUMNS)}) VALUES ({values})"
        )
        self.insert_unique = d.with_notify(
            f"{insert} backroom_job ({', '.join(INSERT_COLUMNS)}) VALUES ({values}){ignore}"
        )
        self.select_one = f"SELECT {columns} FROM backroom_job WHERE id = %s"
        self.select_active_unique = (
            f"SELECT {columns} FROM backroom_job WHERE unique_key = %s AND status IN ('READY', 'RUNNING')"
        )
        # A delivered message whose job the claim guard refused: without a message now, if still READY.
        # Params: a time no job is due at (the relay publishes the job at once when it may run), ids...
        self.forget_dispatch = ForCount(
            "UPDATE backroom_job SET dispatched_for = %s "
            "WHERE id IN ({values}) AND status = 'READY' AND worker_id IS NULL"
        )
        self.ready_lanes = (
            "SELECT DISTINCT queue_name, priority FROM backroom_job "
            "WHERE status = 'READY' AND worker_id IS NULL"
        )
        self.hold = ForCount(
            "UPDATE backroom_job SET worker_id = %s, lease_expires_at = %s WHERE id IN ({values})"
        )
        self.upsert_worker = d.upsert(
            f"INSERT INTO backroom_worker ({', '.join(WORKER_COLUMNS)}) "
            f"VALUES (%s, %s, %s, {d.json_param}, %s, %s, %s, %s, %s)",
            "id",
            ["last_heartbeat_at", "abandoned_threads"],
        )
        self.select_workers = f"SELECT {', '.join(WORKER_COLUMNS)} FROM backroom_worker"
        self.select_running = (
            f"SELECT {columns} FROM backroom_job WHERE status = 'RUNNING' ORDER BY last_attempted_at"
        )
        self.expired = (
            f"SELECT {HELD_COLUMNS} FROM backroom_job WHERE (worker_id IS NOT NULL OR status = 'RUNNING') "
            "AND (lease_expires_at < %s OR lease_expires_at IS NULL) ORDER BY lease_expires_at LIMIT %s"
        )
        self.silent_workers = (
            "SELECT id, hostname, pid, started_at FROM backroom_worker WHERE last_heartbeat_at < %s"
        )
        self.delete_stale_workers = "DELETE FROM backroom_worker WHERE last_heartbeat_at < %s"
        self.delete_worker = "DELETE FROM backroom_worker WHERE id = %s"
        self.set_progress = (
            f"UPDATE backroom_job SET progress = {d.json_param} "
            # Also while the start is on its way: the task may report before the worker writes it.
            f"WHERE id = %s AND ((status = 'RUNNING' AND {d.count('attempts')} = %s) "
            f"OR (status = 'READY' AND worker_id IS NOT NULL AND {d.count('attempts')} = %s - 1))"
        )
        self.cancel_requested = "SELECT cancel_requested FROM backroom_job WHERE id = %s"
        # Schedules: the unique (schedule_name, slot_at) lets one scheduler record each slot.
        insert_slot = (
            f"{insert} backroom_schedule_run (schedule_name, slot_at, job_id, enqueued_at) "
            f"VALUES (%s, %s, %s, %s){ignore}"
        )
        self.insert_slot = d.returning(insert_slot, "id") if d.update_returning else insert_slot
        self.set_slot_job = "UPDATE backroom_schedule_run SET job_id = %s WHERE id = %s"
        # Pruning: one bounded batch per statement, so no long lock on the tables. The extra
        # derived table lets MySQL limit a subquery of the table it deletes from.
        self.prune_jobs = ForCount(
            "DELETE FROM backroom_job WHERE id IN (SELECT id FROM (SELECT id FROM backroom_job "
            f"WHERE status IN ({{values}}) AND finished_at < %s LIMIT %s{d.delete_lock}) AS doomed)"
        )
        self.prune_slots = (
            "DELETE FROM backroom_schedule_run WHERE id IN (SELECT id FROM (SELECT id FROM "
            "backroom_schedule_run r WHERE slot_at < %s AND slot_at < (SELECT MAX(slot_at) FROM "
            "backroom_schedule_run m WHERE m.schedule_name = r.schedule_name) "
            f"LIMIT %s{d.delete_lock}) AS doomed)"
        )
        # What people do from the dashboard, the admin and the CLI.
        retry_set = _RETRY_SET.format(false=d.false)
        self.retry_one = d.with_notify(
            f"UPDATE backroom_job SET {retry_set} WHERE id = %s AND status IN ('FAILED', 'CANCELLED')"
        )
        self.retry_unkeyed_failed = d.with_notify(
            f"UPDATE backroom_job SET {retry_set} "
            "WHERE task_path = %s AND status = 'FAILED' AND unique_key IS NULL"
        )
        self.select_keyed_failed = (
            "SELECT id FROM backroom_job WHERE task_path = %s AND status = 'FAILED' "
            "AND unique_key IS NOT NULL"
        )
        # Ending a job unrun: params finished_at, then the error (JSON) appended to its errors.
        cancelled = (
            f"status = 'CANCELLED', finished_at = %s, errors = {d.json_append('errors', d.json('%s'))}"
        )
        self.cancel = (
            f"UPDATE backroom_job SET {cancelled}, worker_id = NULL, lease_expires_at = NULL "
            "WHERE id = %s AND status = 'READY'"
        )
        self.request_cancel = (
            f"UPDATE backroom_job SET cancel_requested = {d.true} WHERE id = %s AND status = 'RUNNING'"
        )
        self.select_status = "SELECT status FROM backroom_job WHERE id = %s"
        # Workflow links (see brokers/database/links.py): a waiting job counts its parents down, row-locked,
        # so that of the parents finishing at once exactly one sees none left and releases it.
        still_waiting = "id = %s AND status = 'READY' AND waiting_for > 0"
        self.count_down = f"UPDATE backroom_job SET waiting_for = waiting_for - 1 WHERE {still_waiting}"
        self.select_waiting = (
            f"SELECT waiting_for, {d.json_text('args')}, {d.read_time('run_after')} FROM backroom_job "
            f"WHERE id = %s{d.lock_rows}"
        )
        self.release_waiting = d.with_notify(
            f"UPDATE backroom_job SET args = {d.json_param}, available_at = %s WHERE id = %s"
        )
        self.select_links = f"SELECT {d.json_text('links')} FROM backroom_job WHERE id = %s"
        self.cancel_waiting = f"UPDATE backroom_job SET {cancelled}, waiting_for = 0 WHERE {still_waiting}"
        self.delete_failed = "DELETE FROM backroom_job WHERE task_path = %s AND status = 'FAILED'"
        # Statements over a list of ids, workers or schedules.
        self.select_by_ids = ForCount(f"SELECT {columns} FROM backroom_job WHERE id IN ({{values}})")
        self.lock_jobs = ForCount(
            f"SELECT id FROM backroom_job WHERE id IN ({{values}}) ORDER BY id{d.lock_rows}"
        )
        self.select_results = ForCount(
            f"SELECT id, {d.json_text('return_value')} FROM backroom_job WHERE id IN ({{values}})"
        )
        self.extend_leases = ForCount(
            "UPDATE backroom_job SET lease_expires_at = %s WHERE worker_id = %s AND id IN ({values})"
        )
        self.held_by = ForCount(f"SELECT {HELD_COLUMNS} FROM backroom_job WHERE worker_id IN ({{values}})")
        self.last_slots = ForCount(
            "SELECT schedule_name, slot_at, job_id, enqueued_at FROM backroom_schedule_run r "
            "WHERE schedule_name IN ({values}) AND slot_at = (SELECT MAX(slot_at) "
            "FROM backroom_schedule_run m WHERE m.schedule_name = r.schedule_name)"
        )
        self.pause_queue = (
            f"{insert} backroom_paused_queue (queue_name, paused_at, paused_by) VALUES (%s, %s, %s){ignore}"
        )
        # Resuming wakes the queue's idle workers, as an enqueue does.
        self.resume_queue = d.with_notify("DELETE FROM backroom_paused_queue WHERE queue_name = %s")
        self.select_paused = "SELECT queue_name FROM backroom_paused_queue ORDER BY queue_name"
        # Limits: a claim of a group's jobs locks its row first (creating it on first use), by a
        # write that takes the lock at once: SQLite's write lock, and on MySQL no shared lock (which
        # INSERT IGNORE would take, and two of which deadlock when both then ask for the row).
        self.lock_limit = d.upsert(
            "INSERT INTO backroom_limit (limit_group, next_start_at) VALUES (%s, NULL)",
            "limit_group",
            ["limit_group"],
        )
        self.read_limit = f"SELECT {d.read_time('next_start_at')} FROM backroom_limit WHERE limit_group = %s"
        self.set_next_start = "UPDATE backroom_limit SET next_start_at = %s WHERE limit_group = %s"
        # Whether any limited job waits: the partial index of ready limited jobs is empty otherwise.
        self.limited_ready = (
            "SELECT 1 FROM backroom_job WHERE limit_key IS NOT NULL AND status = 'READY' "
            "AND worker_id IS NULL LIMIT 1"
        )
        # Held jobs (claimed ahead or running): counted afresh each time, so a dead worker's are
        # no longer counted once taken back.
        self.held_of_key = "SELECT COUNT(*) FROM backroom_job WHERE limit_key = %s AND worker_id IS NOT NULL"
        self.held_in_queue = (
            "SELECT COUNT(*) FROM backroom_job WHERE queue_name = %s AND worker_id IS NOT NULL"
        )

    @functools.cache  # noqa: B019 - one Statements per dialect, kept for the process
    def claim(self, queue_count: int, excluded: int = 0) -> str:
        """Hold the best ready unlimited jobs of ``queue_count`` queues (0: every queue but
        ``excluded`` ones) for a worker.

        Params: worker id, lease expiry, then ``Dialect.claim_pick_params``.
        Where an UPDATE cannot return rows, this is the SELECT ... FOR UPDATE
        of the rows to hold (the ``hold`` statement follows in the transaction).
        """
        d = self.dialect
        if not d.update_returning:
            return d.claim_pick(queue_count, self.job_columns, excluded)
        pick = d.claim_pick(queue_count, "id", excluded)
        return d.returning(
            f"UPDATE backroom_job SET worker_id = %s, lease_expires_at = %s WHERE id IN ({pick})",
            self.job_columns,
        )

    @functools.cache  # noqa: B019
    def limited_groups(self, queue_count: int, excluded: int) -> str:
        """The limit keys of ready limited jobs: those that may allow a job now first, then best first.

        Params: now, queues..., excluded..., now, limit. A key is full while
        it holds its concurrency limit's count of jobs, or waits for its
        rate's next start: many full keys never hide one that is not.
        """
        where = f"{READY} AND limit_key IS NOT NULL{_queue_filter(queue_count, excluded)}"
        full = (
            "SELECT limit_key FROM backroom_job WHERE worker_id IS NOT NULL AND limit_key IS NOT NULL "
            "GROUP BY limit_key HAVING COUNT(*) >= MIN(concurrency_limit)"
        )
        waiting = "SELECT limit_group FROM backroom_limit WHERE next_start_at > %s"
        return (
            "SELECT g.limit_key FROM (SELECT limit_key, MAX(priority) AS best, MIN(available_at) AS since "
            f"FROM backroom_job WHERE {where} GROUP BY limit_key) AS g ORDER BY CASE WHEN g.limit_key "
            f"IN ({full}) OR g.limit_key IN ({waiting}) THEN 1 ELSE 0 END, g.best DESC, g.since LIMIT %s"
        )

    @functools.cache  # noqa: B019
    def limited_pick(self, by_key: bool, queue_count: int, excluded: int) -> str:
        """The best ready jobs of one limit key (``by_key``) or of one limited queue, locked.

        Params: the key or queue, now, queues..., excluded..., limit.
        """
        group = "limit_key = %s" if by_key else "queue_name = %s"
        where = f"{group} AND {READY}{_queue_filter(queue_count, excluded)}"
        return (
            f"SELECT {self.job_columns} FROM backroom_job WHERE {where} "
            f"ORDER BY priority DESC, available_at LIMIT %s{self.dialect.skip_locked}"
        )

    @functools.cache  # noqa: B019
    def record(self, count: int) -> str:
        """Write ``count`` transitions; each row changes its job only while its claim holds."""
        d = self.dialect
        assignments = ", ".join([
            "status = t.t_status",
            "attempts = t.t_attempt",
            "started_at = COALESCE(started_at, t.t_started_at)",
            "last_attempted_at = COALESCE(t.t_started_at, last_attempted_at)",
            "worker_ids = CASE WHEN t.t_started_at IS NULL THEN worker_ids "
            f"ELSE {d.json_append('worker_ids', 't.t_owner')} END",
            "finished_at = t.t_finished_at",
            "available_at = COALESCE(t.t_available_at, available_at)",
            f"return_value = {d.json('t.t_return_value')}",
            "errors = CASE WHEN t.t_error IS NULL THEN errors "
            f"ELSE {d.json_append('errors', d.json('t.t_error'))} END",
            "progress = CASE WHEN t.t_status = 'READY' THEN NULL ELSE progress END",  # a retry starts afresh
            "worker_id = CASE WHEN t.t_status = 'RUNNING' THEN worker_id ELSE NULL END",
            "lease_expires_at = CASE WHEN t.t_status = 'RUNNING' THEN lease_expires_at ELSE NULL END",
            f"orphaned = orphaned + {d.boolean('t.t_lost')}",
        ])  # fmt: skip
        # A start holds an unstarted claim; an end without a start, a started one; or a held job that
        # expired before it started ends CANCELLED, no attempt charged.
        expired = (
            "(t.t_started_at IS NULL AND t.t_status = 'CANCELLED' AND backroom_job.status = 'READY' "
            f"AND {d.count('backroom_job.attempts')} = t.t_attempt)"
        )
        condition = self._claim_holds("t.t_started_at IS NULL", "t.t_started_at IS NOT NULL", expired)
        sql = d.update_from(d.table(TRANSITION_COLUMNS, count), assignments, condition)
        return d.returning(sql, "backroom_job.id") if d.update_returning else sql

    def _claim_holds(self, started: str, unstarted: str, *other_cases: str) -> str:
        """The guard of a write for a worker (``holds`` in the Lua scripts): claim ``t`` still holds its job.

        Its owner holds the row, RUNNING at the claim's attempt where ``started`` is true of the claim,
        READY one attempt before where ``unstarted`` is.
        """
        attempts = self.dialect.count("backroom_job.attempts")
        cases = [
            f"({started} AND backroom_job.status = 'RUNNING' AND {attempts} = t.t_attempt)",
            f"({unstarted} AND backroom_job.status = 'READY' AND {attempts} = t.t_attempt - 1)",
            *other_cases,
        ]
        return (
            f"backroom_job.id = t.t_id AND backroom_job.worker_id {self.dialect.is_same} t.t_owner "
            f"AND ({' OR '.join(cases)})"
        )

    @functools.cache  # noqa: B019
    def release(self, count: int) -> str:
        """Hand ``count`` held jobs back as READY, taking back the attempt of those already started."""
        condition = self._claim_holds("t.t_started", "NOT t.t_started")
        d = self.dialect
        assignments = ", ".join([
            f"worker_ids = CASE WHEN t.t_started THEN {d.json_pop('worker_ids')} ELSE worker_ids END",
            "started_at = CASE WHEN t.t_started AND t.t_attempt = 1 THEN NULL ELSE started_at END",
            f"attempts = attempts - {d.boolean('t.t_started')}",
            "status = 'READY'",
            "worker_id = NULL",
            "lease_expires_at = NULL",
            f"orphaned = orphaned + {d.boolean('t.t_lost')}",
        ])  # fmt: skip
        return d.with_notify(d.update_from(d.table(RELEASE_COLUMNS, count), assignments, condition))

    @functools.cache  # noqa: B019
    def insert_many(self, count: int) -> str:
        """Insert ``count`` jobs of one task: shared values once, then each job's id and arguments."""
        d = self.dialect
        shared = (
            f"%s, %s, %s, 'READY', {d.json('t.t_args')}, {d.json('t.t_kwargs')}, %s, %s, %s, 0, %s, %s, "
            f"{d.json_param}, NULL, '[]', '[]', {d.false}, 0, %s, NULL, 0, %s, %s, %s"
        )
        return d.insert_many(", ".join(INSERT_COLUMNS), shared, count)

    # Dispatch through RabbitMQ (brokers/rabbitmq): ``dispatched_for`` is the available_at of the job's
    # confirmed message; a READY job whose available_at differs has none.

    @functools.cache  # noqa: B019
    def claim_delivered(self, count: int) -> str:
        """Hold those of ``count`` delivered jobs that are ready, unheld and unlimited: the claim guard.

        Params: worker id, lease expiry, ids..., now. Where an UPDATE cannot
        return rows: ids..., now, and ``hold`` follows in the transaction.
        """
        d = self.dialect
        pick = (
            f"SELECT {{columns}} FROM backroom_job WHERE id IN ({placeholders(count)}) AND {READY} "
            f"AND limit_key IS NULL{d.skip_locked}"
        )
        if not d.update_returning:
            return pick.format(columns=self.job_columns)
        return d.returning(
            "UPDATE backroom_job SET worker_id = %s, lease_expires_at = %s "
            f"WHERE id IN ({pick.format(columns='id')})",
            self.job_columns,
        )

    @functools.cache  # noqa: B019
    def mark_dispatched(self, count: int, *, fresh: bool) -> str:
        """Record ``count`` confirmed messages, each only while its job is still due when it was published.

        ``fresh``: new jobs' messages, published with no row lock held; a
        worker may have taken the message already and forgotten it (the job
        could not run yet): never mark over that.
        """
        d = self.dialect
        condition = "backroom_job.id = t.t_id AND backroom_job.available_at = t.t_available_at"
        if fresh:
            condition += " AND backroom_job.dispatched_for IS NULL"
        return d.update_from(d.table(DISPATCH_COLUMNS, count), "dispatched_for = t.t_available_at", condition)

    @functools.cache  # noqa: B019
    def undispatched(self, excluded: int) -> str:
        """Due, unheld, unlimited READY jobs without a confirmed message.

        A job never published and due at its enqueue is left until a moment
        after it: its publisher may still be on its way. Params: now, that
        moment, excluded queues..., limit.
        """
        d = self.dialect
        fresh = "(available_at > enqueued_at OR enqueued_at <= %s)"
        return (
            f"SELECT id, queue_name, priority, {d.read_time('available_at')} FROM backroom_job WHERE {READY} "
            "AND limit_key IS NULL "
            f"AND (dispatched_for <> available_at OR (dispatched_for IS NULL AND {fresh}))"
            f"{_queue_filter(0, excluded)} "
            f"ORDER BY available_at LIMIT %s{d.skip_locked}"
        )

    @functools.cache  # noqa: B019
    def stranded(self, excluded: int) -> str:
        """READY jobs of one lane recorded as published, due since a moment: run when its queue is empty.

        Params: now, queue name, priority, due before, excluded queues..., limit.
        """
        d = self.dialect
        return (
            f"SELECT id, queue_name, priority, {d.read_time('available_at')} FROM backroom_job WHERE {READY} "
            "AND limit_key IS NULL AND queue_name = %s AND priority = %s AND dispatched_for = available_at "
            f"AND available_at <= %s{_queue_filter(0, excluded)} "
            f"ORDER BY available_at LIMIT %s{d.skip_locked}"
        )
