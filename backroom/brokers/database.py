"""The broker for SQL databases, through Django's connection for the configured alias.

Statements are written once here; what differs between vendors comes from
``dialects``. Every write made on behalf of a worker is guarded by the claim
(job id, owner, attempt), so a late write after a reap changes nothing.
"""

import json
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property

from ..exceptions import StoreUnavailable
from ..models import Job
from ..serialization import dumps
from .base import (
    LOST_WORKER_ERROR,
    LOST_WORKER_TRACEBACK,
    REAP_BATCH,
    STALE_WORKER_RETENTION,
    ClaimRef,
    JobBatch,
    JobRecord,
    NewJob,
    Outcome,
    Pruned,
    Reaped,
    SlotRun,
    WorkerInfo,
    claim_order,
)
from .database_inspection import DatabaseInspection
from .dialects import Dialect, dialect_for
from .stored import decode_columns

JOB_COLUMNS = (
    "id, task_path, queue_name, priority, status, args, kwargs, run_after, available_at, "
    "enqueued_at, started_at, last_attempted_at, finished_at, attempts, max_attempts, "
    "timeout_seconds, retry, unique_key, worker_id, worker_ids, errors, return_value, progress"
)
INSERT_COLUMNS = (
    "id, task_path, queue_name, priority, status, args, kwargs, run_after, available_at, "
    "enqueued_at, attempts, max_attempts, timeout_seconds, retry, unique_key, worker_ids, "
    "errors, cancel_requested"
)

#: The columns of a batch of outcomes (see Statements.finish) and their PostgreSQL types.
OUTCOME_COLUMNS = {
    "id": "uuid",
    "owner": "text",
    "attempt": "integer",
    "status": "text",
    "finished_at": "timestamptz",
    "available_at": "timestamptz",
    "return_value": "text",
    "error": "text",
}


class Statements:
    """The SQL for one dialect, built once."""

    def __init__(self, d: Dialect) -> None:
        self.insert = d.insert_returning(
            f"INSERT INTO backroom_job ({INSERT_COLUMNS}) VALUES "
            f"(%s, %s, %s, %s, 'READY', {d.json_param}, {d.json_param}, %s, %s, %s, 0, %s, %s, "
            f"{d.json_param}, %s, '[]', '[]', false) ON CONFLICT DO NOTHING"
        )
        # {args} and {kwargs} are the dialect's expressions for the row's own JSON arguments.
        self.insert_many_shared = (
            "%s, %s, %s, 'READY', {args}, {kwargs}, %s, %s, %s, 0, %s, %s, "
            f"{d.json_param}, NULL, '[]', '[]', false"
        )
        self._insert_many: dict[int, str] = {}
        self.select_active_unique = (
            f"SELECT {JOB_COLUMNS} FROM backroom_job WHERE unique_key = %s AND status IN ('READY', 'RUNNING')"
        )
        self.select_one = f"SELECT {JOB_COLUMNS} FROM backroom_job WHERE id = %s"
        self._claim = (
            "UPDATE backroom_job SET status = 'RUNNING', worker_id = %s, "
            "attempts = attempts + 1, "
            f"worker_ids = {d.json_append('worker_ids', d.text_param)}, "
            "started_at = COALESCE(started_at, %s), last_attempted_at = %s, "
            "lease_expires_at = %s "
            "WHERE id IN (SELECT id FROM backroom_job "
            "WHERE status = 'READY' AND available_at <= %s{queues} "
            f"ORDER BY priority DESC, available_at LIMIT %s{d.skip_locked}) "
            f"RETURNING {JOB_COLUMNS}"
        )
        # One statement for a batch of outcomes of any kind: success, final failure, retry, reap.
        self._finish = (
            f"WITH outcome ({', '.join(OUTCOME_COLUMNS)}) AS ({{rows}}) "
            "UPDATE backroom_job SET status = outcome.status, finished_at = outcome.finished_at, "
            "available_at = COALESCE(outcome.available_at, backroom_job.available_at), "
            f"return_value = {d.json('outcome.return_value')}, "
            "errors = CASE WHEN outcome.error IS NULL THEN backroom_job.errors "
            f"ELSE {d.json_append('backroom_job.errors', d.json('outcome.error'))} END, "
            "worker_id = NULL, lease_expires_at = NULL FROM outcome "
            # Null-safe: the reaper also finishes RUNNING rows whose owner was edited away.
            f"WHERE backroom_job.id = outcome.id AND backroom_job.worker_id {d.is_same} outcome.owner "
            "AND backroom_job.attempts = outcome.attempt AND backroom_job.status = 'RUNNING'"
        )
        self._dialect = d
        self.release = (
            "UPDATE backroom_job SET status = 'READY', worker_id = NULL, "
            "lease_expires_at = NULL, attempts = attempts - 1, "
            "started_at = CASE WHEN attempts = 1 THEN NULL ELSE started_at END, "
            f"worker_ids = {d.json_pop('worker_ids')} "
            "WHERE id = %s AND worker_id = %s AND attempts = %s AND status = 'RUNNING'"
        )
        self.upsert_worker = (
            "INSERT INTO backroom_worker "
            "(id, hostname, pid, queues, concurrency, backend, started_at, last_heartbeat_at) "
            f"VALUES (%s, %s, %s, {d.json_param}, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET last_heartbeat_at = excluded.last_heartbeat_at"
        )
        self.extend_leases = (
            "UPDATE backroom_job SET lease_expires_at = %s WHERE worker_id = %s AND status = 'RUNNING'"
        )
        self.select_expired = (
            "SELECT id, task_path, worker_id, attempts, max_attempts FROM backroom_job "
            "WHERE status = 'RUNNING' AND (lease_expires_at < %s OR lease_expires_at IS NULL) "
            f"ORDER BY lease_expires_at LIMIT {REAP_BATCH}{d.skip_locked}"
        )
        self.delete_stale_workers = "DELETE FROM backroom_worker WHERE last_heartbeat_at < %s"
        self.delete_worker = "DELETE FROM backroom_worker WHERE id = %s"
        self.set_progress = (
            f"UPDATE backroom_job SET progress = {d.json_param} "
            "WHERE id = %s AND attempts = %s AND status = 'RUNNING'"
        )
        self.cancel_requested = "SELECT cancel_requested FROM backroom_job WHERE id = %s"
        # Schedules: the unique (schedule_name, slot_at) lets one scheduler record each slot.
        self.insert_slot = (
            "INSERT INTO backroom_schedule_run (schedule_name, slot_at, job_id, enqueued_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (schedule_name, slot_at) DO NOTHING RETURNING id"
        )
        self.set_slot_job = "UPDATE backroom_schedule_run SET job_id = %s WHERE id = %s"
        self._last_slots = (
            "SELECT schedule_name, slot_at, job_id, enqueued_at FROM backroom_schedule_run r "
            "WHERE schedule_name IN ({names}) AND slot_at = (SELECT MAX(slot_at) "
            "FROM backroom_schedule_run m WHERE m.schedule_name = r.schedule_name)"
        )
        # Pruning: one bounded batch per statement, so no long lock on the tables.
        self.prune_jobs = (
            "DELETE FROM backroom_job WHERE id IN (SELECT id FROM backroom_job "
            f"WHERE status IN ({{statuses}}) AND finished_at < %s LIMIT %s{d.skip_locked})"
        )
        self.prune_slots = (
            "DELETE FROM backroom_schedule_run WHERE id IN (SELECT id FROM backroom_schedule_run r "
            "WHERE slot_at < %s AND slot_at < (SELECT MAX(slot_at) FROM backroom_schedule_run m "
            f"WHERE m.schedule_name = r.schedule_name) LIMIT %s{d.skip_locked})"
        )

    def finish(self, outcome_count: int) -> str:
        return self._finish.format(rows=self._dialect.rows(list(OUTCOME_COLUMNS.values()), outcome_count))

    def insert_many(self, rows: int) -> str:
        sql = self._insert_many.get(rows)
        if sql is None:
            sql = self._insert_many[rows] = self._dialect.insert_many(
                INSERT_COLUMNS, self.insert_many_shared, rows
            )
        return sql

    def last_slots(self, name_count: int) -> str:
        return self._last_slots.format(names=", ".join(["%s"] * name_count))

    def claim(self, queue_count: int) -> str:
        if not queue_count:
            return self._claim.format(queues="")
        placeholders = ", ".join(["%s"] * queue_count)
        return self._claim.format(queues=f" AND queue_name IN ({placeholders})")


def _job_id(value: Any) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def _stored_ids(connection: BaseDatabaseWrapper, job_ids: Sequence[str]) -> list[str]:
    """New job ids as Django's UUIDField stores them (a uuid, or 32 hex digits), without making UUIDs."""
    if connection.features.has_native_uuid_field:
        return list(job_ids)
    return [job_id.replace("-", "") for job_id in job_ids]


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


class DatabaseBroker(DatabaseInspection):
    """Jobs in a table of the Django database named by ``alias``; inspection mixed in."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    @property
    def connection(self) -> BaseDatabaseWrapper:
        """The calling thread's connection (Django keeps one per thread)."""
        return connections[self.alias]

    @cached_property
    def dialect(self) -> Dialect:
        return dialect_for(self.connection)

    @cached_property
    def sql(self) -> Statements:
        return Statements(self.dialect)

    @property
    def default_poll_interval_seconds(self) -> float:
        return self.dialect.default_poll_interval_seconds

    # Conversions between Python values and this database's column values.

    def _db_datetime(self, value: datetime | None) -> Any:
        return self.connection.ops.adapt_datetimefield_value(value)

    def _db_id(self, job_id: str) -> Any:
        return Job._meta.pk.get_db_prep_value(uuid.UUID(job_id), self.connection)  # type: ignore[union-attr]

    @staticmethod
    def _datetime(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = parse_datetime(value)
        if settings.USE_TZ and timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]

    def _record(self, row: Sequence[Any]) -> JobRecord:
        (
            job_id, task_path, queue_name, priority, status, args, kwargs, run_after,
            available_at, enqueued_at, started_at, last_attempted_at, finished_at, attempts,
            max_attempts, timeout_seconds, retry, unique_key, worker_id, worker_ids, errors,
            return_value, progress,
        ) = row  # fmt: skip
        json_columns, defect = decode_columns(
            {
                "args": args, "kwargs": kwargs, "retry": retry, "worker_ids": worker_ids,
                "errors": errors, "return_value": return_value, "progress": progress,
            }
        )  # fmt: skip
        return JobRecord(
            id=_job_id(job_id),
            task_path=task_path,
            queue_name=queue_name,
            priority=priority,
            status=status,
            run_after=self._datetime(run_after),
            available_at=self._datetime(available_at),  # type: ignore[arg-type]
            enqueued_at=self._datetime(enqueued_at),  # type: ignore[arg-type]
            started_at=self._datetime(started_at),
            last_attempted_at=self._datetime(last_attempted_at),
            finished_at=self._datetime(finished_at),
            attempts=attempts,
            max_attempts=max_attempts,
            timeout_seconds=timeout_seconds,
            unique_key=unique_key,
            worker_id=worker_id,
            defect=defect,
            **json_columns,
        )

    # What backends call.

    def enqueue(self, job: NewJob) -> JobRecord | None:
        connection = self.connection  # looked up once: each lookup goes through asgiref's Local
        adapt = connection.ops.adapt_datetimefield_value
        params = (
            _stored_ids(connection, [job.id])[0], job.task_path, job.queue_name, job.priority, job.args,
            job.kwargs, adapt(job.run_after), adapt(job.available_at), adapt(job.enqueued_at),
            job.max_attempts, job.timeout_seconds, _dumps(job.retry), job.unique_key,
        )  # fmt: skip
        try:
            with connection.cursor() as cursor:
                # A unique key can be freed between the conflict and the look-up; try again then.
                for _ in range(3):
                    cursor.execute(self.sql.insert, params)
                    if cursor.fetchall():
                        return None
                    cursor.execute(self.sql.select_active_unique, (job.unique_key,))
                    row = cursor.fetchone()
                    if row is not None:
                        return self._record(row)
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(job.task_path, exc) from exc
        raise RuntimeError(f"Could not store job {job.id}: unique key {job.unique_key!r} keeps changing.")

    def enqueue_many(self, batch: JobBatch) -> None:
        shared = [
            batch.task_path, batch.queue_name, batch.priority, self._db_datetime(batch.run_after),
            self._db_datetime(batch.available_at), self._db_datetime(batch.enqueued_at),
            batch.max_attempts, batch.timeout_seconds, _dumps(batch.retry),
        ]  # fmt: skip
        ids = _stored_ids(self.connection, batch.ids)
        chunks = batch.chunks(self.dialect.batch_rows(self.connection, len(shared)))
        # One statement is atomic by itself; more need a transaction (the caller's, when there is one).
        atomic = transaction.atomic(using=self.alias, savepoint=False) if len(chunks) > 1 else nullcontext()
        try:
            with atomic, self.connection.cursor() as cursor:
                for start, end in chunks:
                    params = self.dialect.insert_many_params(
                        shared,
                        ids[start:end],
                        list(batch.args[start:end]),
                        list(batch.kwargs[start:end]),
                        batch.queue_name,
                    )
                    cursor.execute(self.sql.insert_many(end - start), params)
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(batch.task_path, exc) from exc

    def _unavailable(self, task_path: str, exc: Exception) -> StoreUnavailable:
        if not self.connection.in_atomic_block:
            # Outside a request cycle nothing else drops a broken connection: the next enqueue reconnects.
            self.connection.close_if_unusable_or_obsolete()
        return StoreUnavailable(
            f"Could not enqueue {task_path}: the job store (database {self.alias!r}) "
            f"is unavailable: {exc}".strip()
        )

    def enqueue_slot(self, job: NewJob, schedule_name: str, slot_at: datetime) -> str | None:
        with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            slot = (schedule_name, self._db_datetime(slot_at), self._db_id(job.id))
            cursor.execute(self.sql.insert_slot, (*slot, self._db_datetime(job.enqueued_at)))
            row = cursor.fetchone()
            if row is None:
                return None  # another scheduler recorded this slot first
            existing = self.enqueue(job)
            if existing is None:
                return job.id
            cursor.execute(self.sql.set_slot_job, (self._db_id(existing.id), row[0]))
            return existing.id

    def last_slots(self, schedule_names: Sequence[str]) -> dict[str, SlotRun]:
        if not schedule_names:
            return {}
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql.last_slots(len(schedule_names)), list(schedule_names))
            rows = cursor.fetchall()
        return {
            name: SlotRun(
                schedule_name=name,
                slot_at=self._datetime(slot_at),  # type: ignore[arg-type]
                job_id=_job_id(job_id),
                enqueued_at=self._datetime(enqueued_at),  # type: ignore[arg-type]
            )
            for name, slot_at, job_id, enqueued_at in rows
        }

    def get(self, job_id: str) -> JobRecord | None:
        try:
            db_id = self._db_id(job_id)
        except ValueError:
            return None
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql.select_one, (db_id,))
            row = cursor.fetchone()
        return None if row is None else self._record(row)

    # What workers call.

    def claim(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        now: datetime,
        lease_expires_at: datetime,
    ) -> list[JobRecord]:
        db_now = self._db_datetime(now)
        params = (
            worker_id, worker_id, db_now, db_now, self._db_datetime(lease_expires_at), db_now,
            *queues, limit,
        )  # fmt: skip
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql.claim(len(queues)), params)
            records = [self._record(row) for row in cursor.fetchall()]
        # RETURNING keeps no order: restore the claim's.
        records.sort(key=claim_order)
        return records

    def persist(self, worker_id: str, outcomes: Sequence[Outcome]) -> None:
        self._finish([(outcome, worker_id) for outcome in outcomes])

    def _finish(self, rows: Sequence[tuple[Outcome, str]]) -> None:
        """Write a batch of outcomes in one statement (atomic on its own)."""
        if not rows:
            return
        values = [
            (
                self._db_id(outcome.job_id), owner, outcome.attempt, outcome.status,
                self._db_datetime(outcome.finished_at if outcome.status != "READY" else None),
                self._db_datetime(outcome.available_at), outcome.return_value, _dumps(outcome.error),
            )
            for outcome, owner in rows
        ]  # fmt: skip
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql.finish(len(values)), self.dialect.rows_params(values))

    def release(self, worker_id: str, claims: Sequence[ClaimRef]) -> None:
        params = [(self._db_id(c.job_id), worker_id, c.attempt) for c in claims]
        with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            cursor.executemany(self.sql.release, params)

    def heartbeat(self, worker: WorkerInfo, now: datetime, lease_expires_at: datetime) -> None:
        with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            cursor.execute(
                self.sql.upsert_worker,
                (
                    worker.id, worker.hostname, worker.pid, _dumps(worker.queues),
                    worker.concurrency, worker.backend, self._db_datetime(worker.started_at),
                    self._db_datetime(now),
                ),
            )  # fmt: skip
            cursor.execute(self.sql.extend_leases, (self._db_datetime(lease_expires_at), worker.id))

    def reap(self, now: datetime) -> list[Reaped]:
        with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            cursor.execute(self.sql.select_expired, (self._db_datetime(now),))
            expired = cursor.fetchall()
            cursor.execute(self.sql.delete_stale_workers, (self._db_datetime(now - STALE_WORKER_RETENTION),))
            rows = []
            reaped = []
            for job_id, task_path, owner, attempts, max_attempts in expired:
                job_id = _job_id(job_id)
                status = "FAILED" if attempts >= max_attempts else "READY"
                error = {
                    "exception_class_path": LOST_WORKER_ERROR,
                    "traceback": LOST_WORKER_TRACEBACK % (owner, attempts, max_attempts),
                    "attempt": attempts,
                    "worker_id": owner,
                    "at": now.isoformat(),
                }
                outcome = Outcome(
                    job_id=job_id, attempt=attempts, status=status, finished_at=now,
                    error=error, available_at=now,
                )  # fmt: skip
                rows.append((outcome, owner))
                reaped.append(Reaped(job_id=job_id, task_path=task_path, worker_id=owner, status=status))
            if rows:
                self._finish(rows)
        return reaped

    def prune(self, successful_before: datetime, failed_before: datetime, batch_size: int) -> Pruned:
        jobs = 0
        for statuses, before in (
            (("SUCCESSFUL",), successful_before),
            (("FAILED", "CANCELLED"), failed_before),
        ):
            sql = self.sql.prune_jobs.format(statuses=", ".join(["%s"] * len(statuses)))
            jobs += self._delete_in_batches(sql, (*statuses, self._db_datetime(before)), batch_size)
        slots_before = self._db_datetime(min(successful_before, failed_before))
        schedule_runs = self._delete_in_batches(self.sql.prune_slots, (slots_before,), batch_size)
        return Pruned(jobs=jobs, schedule_runs=schedule_runs)

    def _delete_in_batches(self, sql: str, params: tuple[Any, ...], batch_size: int) -> int:
        """Run a bounded DELETE, one transaction each, until a batch comes back short."""
        deleted = 0
        while True:
            with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
                cursor.execute(sql, (*params, batch_size))
                count = cursor.rowcount
            deleted += count
            if count < batch_size:
                return deleted

    def unregister(self, worker_id: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql.delete_worker, (worker_id,))

    def set_progress(self, claim: ClaimRef, progress: Any) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql.set_progress, (dumps(progress), self._db_id(claim.job_id), claim.attempt))

    def is_cancel_requested(self, job_id: str) -> bool:
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql.cancel_requested, (self._db_id(job_id),))
            row = cursor.fetchone()
        return bool(row and row[0])

    def listen(self, wake: Callable[[str], None], stop: threading.Event) -> None:
        try:
            self.dialect.listen(self.connection, wake, stop)
        finally:
            self.reset_connection()  # the listening connection is this thread's alone

    def reset_connection(self) -> None:
        try:
            self.connection.close()
        except DatabaseError:
            pass  # closing a broken connection can fail; Django drops it all the same
