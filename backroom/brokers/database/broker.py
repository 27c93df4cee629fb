"""The broker for SQL databases: storing jobs, and holding, starting and finishing them for workers.

Each worker operation is one statement (or one short transaction where the
database cannot return what an UPDATE changed). Every write on a worker's
behalf is guarded by its claim (job id, owner, attempt).
"""

import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.db import transaction

from ...jobs.building import new_job_ids
from ...jobs.json import dumps
from ...jobs.records import JobBatch, JobRecord, JobStatus, NewJob, claim_order
from ...limits import QueueLimit
from ..codec import links_or_none
from ..contract import ClaimRef, HeldJob, Pruned, SlotRun, Transition, WorkerInfo
from . import codec
from .connection import Database
from .limited import LimitedClaim, Served, served
from .links import lock_in_order, settle


class DatabaseBroker:
    """Jobs in a table of the Django database named ``alias``."""

    joins_transactions = True
    workflows_span_queues = True

    def __init__(self, alias: str, *, queue_limits: Sequence[tuple[str, QueueLimit]] = ()) -> None:
        self.db = Database(alias)
        self.queue_limits = tuple(queue_limits)
        self.limited = LimitedClaim(self.db)
        self.default_poll_interval_seconds = self.db.dialect.default_poll_interval_seconds
        self._tagged: dict[int, object] = {}  # thread id -> the raw connection tagged for its worker

    # Storing jobs.

    def new_ids(self, queue_name: str, count: int) -> list[str]:
        return new_job_ids(count)

    def _insert_params(self, job: NewJob) -> tuple[Any, ...]:
        connection = self.db.connection  # looked up once: each lookup goes through asgiref's Local
        adapt = connection.ops.adapt_datetimefield_value
        links, waiting_for = (
            (None, 0) if job.links is None else (dumps(job.links.to_json()), job.links.waiting_for)
        )
        available_at = codec.waiting_until() if waiting_for else job.available_at
        return (
            codec.db_ids(connection, [job.id])[0], job.task_path, job.queue_name, job.priority, job.args,
            job.kwargs, adapt(job.run_after), adapt(available_at), adapt(job.enqueued_at),
            job.max_attempts, job.timeout_seconds, dumps(job.retry), job.unique_key, adapt(job.expires_at),
            links, waiting_for, *codec.limit_columns(job.limits),
        )  # fmt: skip

    def enqueue(self, job: NewJob) -> JobRecord | None:
        db = self.db
        params = self._insert_params(job)
        with db.cursor(f"enqueue {job.task_path}", bound=True) as cursor:
            if job.unique_key is None:
                cursor.execute(db.sql.insert, params)
                return None
            # A unique key can be freed between the conflict and the look-up; try again then.
            for _ in range(3):
                cursor.execute(db.sql.insert_unique, params)
                if cursor.rowcount:
                    return None
                cursor.execute(db.sql.select_active_unique, (job.unique_key,))
                row = cursor.fetchone()
                if row is not None:
                    return codec.job_from_row(row)
        raise RuntimeError(f"Could not store job {job.id}: unique key {job.unique_key!r} keeps changing.")

    def enqueue_many(self, batch: JobBatch) -> None:
        db = self.db
        shared = [
            batch.task_path, batch.queue_name, batch.priority, db.time(batch.run_after),
            db.time(batch.available_at), db.time(batch.enqueued_at), batch.max_attempts,
            batch.timeout_seconds, dumps(batch.retry), db.time(batch.expires_at),
            *codec.limit_columns(batch.limits),
        ]  # fmt: skip
        ids = codec.db_ids(db.connection, batch.ids)
        chunks = batch.chunks(db.dialect.batch_rows(db.connection, 3, len(shared)))
        # One statement is atomic by itself; more need a transaction (the caller's, when there is one).
        atomic = transaction.atomic(using=db.alias, savepoint=False) if len(chunks) > 1 else nullcontext()
        with atomic, db.cursor(f"enqueue {batch.task_path}", bound=True) as cursor:
            for start, end in chunks:
                params = db.dialect.insert_many_params(
                    shared, ids[start:end], list(batch.args[start:end]), list(batch.kwargs[start:end]),
                    batch.queue_name,
                )  # fmt: skip
                cursor.execute(db.sql.insert_many(end - start), params)

    def enqueue_workflow(self, jobs: Sequence[NewJob]) -> None:
        db = self.db
        with db.atomic(f"enqueue a workflow of {len(jobs)} jobs") as cursor:
            for job in jobs:
                sql = db.sql.insert if job.unique_key is None else db.sql.insert_unique
                cursor.execute(sql, self._insert_params(job))

    def enqueue_slot(self, job: NewJob, schedule_name: str, slot_at: datetime) -> str | None:
        db = self.db
        with db.atomic(f"enqueue schedule {schedule_name}") as cursor:
            params = (schedule_name, db.time(slot_at), db.id(job.id), db.time(job.enqueued_at))
            cursor.execute(db.sql.insert_slot, params)
            if db.dialect.update_returning:
                row = cursor.fetchone()
                slot_id = None if row is None else row[0]
            else:
                slot_id = cursor.lastrowid if cursor.rowcount else None
            if slot_id is None:
                return None  # another scheduler recorded this slot first
            existing = self.enqueue(job)
            if existing is None:
                return job.id
            cursor.execute(db.sql.set_slot_job, (db.id(existing.id), slot_id))
            return existing.id

    def last_slots(self, schedule_names: Sequence[str]) -> dict[str, SlotRun]:
        if not schedule_names:
            return {}
        with self.db.cursor("read schedule slots") as cursor:
            cursor.execute(self.db.sql.last_slots(len(schedule_names)), list(schedule_names))
            rows = cursor.fetchall()
        return {
            name: SlotRun(
                schedule_name=name,
                slot_at=codec.to_datetime(slot_at),  # type: ignore[arg-type]
                job_id=codec.job_id(job_id),
                enqueued_at=codec.to_datetime(enqueued_at),  # type: ignore[arg-type]
            )
            for name, slot_at, job_id, enqueued_at in rows
        }

    def get(self, job_id: str) -> JobRecord | None:
        try:
            db_id = self.db.id(job_id)
        except ValueError:
            return None
        with self.db.cursor(f"read job {job_id}") as cursor:
            cursor.execute(self.db.sql.select_one, (db_id,))
            row = cursor.fetchone()
        return None if row is None else codec.job_from_row(row)

    # Running jobs.

    def claim(
        self, worker_id: str, queues: Sequence[str], limit: int, now: datetime, lease_expires_at: datetime
    ) -> list[JobRecord]:
        self.limited.forget_held_back()  # what this claim holds back, not what an earlier one did
        if limit < 1:
            return []
        where = served(self.queue_limits, queues)
        limited: list[JobRecord] | None = None
        if where.limited or self.limited.due():
            limited = self.limited.claim(worker_id, where, limit, now, lease_expires_at)
        room = limit - len(limited or [])
        plain = (
            self._claim_plain(worker_id, where, room, now, lease_expires_at)
            if room and where.has_plain
            else []
        )
        if limited is None:
            self.limited.found_none(plain_claim_full=len(plain) == room)
            return plain
        return sorted(limited + plain, key=claim_order)

    def held_back_seconds(self) -> float | None:
        return self.limited.held_back_seconds()

    def _claim_plain(
        self, worker_id: str, where: Served, limit: int, now: datetime, lease_expires_at: datetime
    ) -> list[JobRecord]:
        """Hold the best ready jobs under no limit: one statement (or one short transaction)."""
        db = self.db
        pick = db.dialect.claim_pick_params(db.time(now), where.plain, limit, where.excluded)
        lease = db.time(lease_expires_at)
        sql = db.sql.claim(len(where.plain), len(where.excluded))
        if db.dialect.update_returning:
            with db.cursor("claim jobs", bound=True) as cursor:
                cursor.execute(sql, [worker_id, lease, *pick])
                # RETURNING keeps no order: restore the claim's.
                return sorted(db.fetch_jobs(cursor), key=claim_order)
        with db.atomic("claim jobs") as cursor:
            cursor.execute(sql, pick)
            jobs = db.fetch_jobs(cursor)
            if jobs:
                ids = [db.id(job.id) for job in jobs]
                hold = db.sql.hold(len(ids))
                cursor.execute(hold, [worker_id, lease, *ids])
        return [job.evolve(worker_id=worker_id) for job in jobs]

    def record(self, worker_id: str | None, transitions: Sequence[Transition]) -> set[str]:
        if not transitions:
            return set()
        linked = [t for t in transitions if t.links is not None and t.status.is_finished]
        if not linked:
            return self._record(worker_id, transitions)
        # Outcomes that release or cancel other jobs: one transaction for the outcomes and their effects.
        with self.db.atomic("record workflow outcomes") as cursor:
            refused = self._record(worker_id, transitions)
            lock_in_order(self.db, cursor, [t.links for t in linked if t.links is not None])
            for t in linked:
                if t.job_id not in refused and t.links is not None and t.finished_at is not None:
                    settle(
                        self.db, cursor, t.job_id, t.links, t.status, t.finished_at,
                        return_value=t.return_value, cause=t.error,
                    )  # fmt: skip
        return refused

    def record_and_claim(
        self, worker_id: str, transitions: Sequence[Transition], claim: Callable[[], list[JobRecord]]
    ) -> tuple[set[str], list[JobRecord] | None]:
        """One transaction: one commit, so one wait for the disk, where the two apart wait twice.

        Trade: the record's row locks are held until the claim commits too (a
        few hundred microseconds more), and a failing claim rolls the record
        back with it (the worker writes both again on its next pass).
        """
        with self.db.errors("record outcomes and claim jobs"), transaction.atomic(using=self.db.alias):
            refused = self.record(worker_id, transitions)
            return refused, claim()

    def _record(self, worker_id: str | None, transitions: Sequence[Transition]) -> set[str]:
        db = self.db
        rows = [
            (
                db.id(t.job_id), worker_id, t.attempt, t.status.value, db.time(t.started_at),
                db.time(t.finished_at), db.time(t.available_at), t.return_value,
                None if t.error is None else dumps(t.error.to_json()), t.lost,
            )
            for t in transitions
        ]  # fmt: skip
        with db.cursor("record job outcomes") as cursor:
            cursor.execute(db.sql.record(len(rows)), db.dialect.table_params(rows))
            if db.dialect.update_returning:
                written = {codec.job_id(row[0]) for row in cursor.fetchall()}
                return {t.job_id for t in transitions} - written
            if cursor.rowcount == len(rows):
                return set()
            if cursor.rowcount == 0:
                return {t.job_id for t in transitions}
        return self._refused(worker_id, transitions)

    def _refused(self, worker_id: str | None, transitions: Sequence[Transition]) -> set[str]:
        """Which transitions did not apply, read back where the UPDATE could not say."""
        stored = self.db.jobs_by_id([t.job_id for t in transitions], "check recorded outcomes")
        refused = set()
        for t in transitions:
            job = stored.get(t.job_id)
            owner = worker_id if t.status == JobStatus.RUNNING else None
            if job is None or (job.status, job.attempts, job.worker_id) != (t.status, t.attempt, owner):
                refused.add(t.job_id)
        return refused

    def release(self, worker_id: str | None, claims: Sequence[ClaimRef], *, lost: bool = False) -> None:
        if not claims:
            return
        db = self.db
        rows = [(db.id(c.job_id), worker_id, c.attempt, c.started, lost) for c in claims]
        with db.cursor("hand back jobs") as cursor:
            cursor.execute(db.sql.release(len(rows)), db.dialect.table_params(rows))

    def heartbeat(
        self, worker: WorkerInfo, now: datetime, lease_expires_at: datetime, held: Sequence[ClaimRef] = ()
    ) -> None:
        db = self.db
        self._tag_session(worker.id)
        with db.atomic("heartbeat") as cursor:
            cursor.execute(
                db.sql.upsert_worker,
                (
                    worker.id, worker.hostname, worker.pid, dumps(worker.queues), worker.concurrency,
                    worker.backend, db.time(worker.started_at), db.time(now), worker.abandoned_threads,
                ),
            )  # fmt: skip
            if held:
                ids = codec.db_ids(db.connection, [claim.job_id for claim in held])
                cursor.execute(db.sql.extend_leases(len(ids)), (db.time(lease_expires_at), worker.id, *ids))
            cursor.execute(db.sql.limited_ready)
            self.limited.in_use = cursor.fetchone() is not None

    def _tag_session(self, worker_id: str) -> None:
        """Mark this thread's session as the worker's, once per connection (Django may reconnect)."""
        connection = self.db.connection
        connection.ensure_connection()
        key = threading.get_ident()
        if self._tagged.get(key) is not connection.connection:
            with self.db.errors("register the worker"):
                self.db.dialect.tag_session(connection, worker_id)
            self._tagged[key] = connection.connection

    def expired(self, now: datetime, limit: int, dead_workers: Sequence[str] = ()) -> list[HeldJob]:
        db = self.db
        with db.cursor("find expired leases") as cursor:
            cursor.execute(db.sql.expired, (db.time(now), limit))
            rows = cursor.fetchall()
            if dead_workers:
                cursor.execute(db.sql.held_by(len(dead_workers)), list(dead_workers))
                rows += cursor.fetchall()
        found = {}
        for job_id, queue_name, task_path, owner, status, attempts, max_attempts, links in rows:
            if status not in (JobStatus.READY, JobStatus.RUNNING):
                continue  # finished while held: an edited row; nothing to take back
            held = HeldJob(
                job_id=codec.job_id(job_id), queue_name=queue_name, task_path=task_path, owner=owner,
                status=JobStatus(status), attempts=attempts, max_attempts=max_attempts,
                links=links_or_none(links),
            )  # fmt: skip
            found[held.job_id] = held
        return list(found.values())

    def silent_workers(self, heartbeat_before: datetime) -> list[WorkerInfo]:
        db = self.db
        with db.cursor("list silent workers") as cursor:
            cursor.execute(db.sql.silent_workers, (db.time(heartbeat_before),))
            rows = cursor.fetchall()
        return [
            WorkerInfo(
                id=worker_id,
                hostname=hostname,
                pid=pid,
                queues=[],
                concurrency=0,
                backend="",
                started_at=codec.to_datetime(started_at),  # type: ignore[arg-type]
            )
            for worker_id, hostname, pid, started_at in rows
        ]

    def connected_workers(self, workers: Sequence[WorkerInfo]) -> set[str] | None:
        worker_ids = [worker.id for worker in workers]
        sql = self.db.dialect.connected_workers_sql(len(worker_ids))
        if sql is None or not worker_ids:
            return None if sql is None else set()
        with self.db.cursor("look for workers' sessions") as cursor:
            cursor.execute(sql, self.db.dialect.connected_workers_params(worker_ids))
            return {row[0] for row in cursor.fetchall()}

    def forget_workers(self, heartbeat_before: datetime) -> None:
        with self.db.cursor("forget stale workers") as cursor:
            cursor.execute(self.db.sql.delete_stale_workers, (self.db.time(heartbeat_before),))

    def unregister(self, worker_id: str) -> None:
        with self.db.cursor("unregister the worker") as cursor:
            cursor.execute(self.db.sql.delete_worker, (worker_id,))

    def set_progress(self, claim: ClaimRef, progress: str) -> None:
        with self.db.cursor("store progress") as cursor:
            params = (progress, self.db.id(claim.job_id), claim.attempt, claim.attempt)
            cursor.execute(self.db.sql.set_progress, params)

    def is_cancel_requested(self, claim: ClaimRef) -> bool:
        with self.db.cursor("read a cancellation request") as cursor:
            cursor.execute(self.db.sql.cancel_requested, (self.db.id(claim.job_id),))
            row = cursor.fetchone()
        return bool(row and row[0])

    def listen(self, wake: Callable[[str], None], stop: threading.Event) -> None:
        try:
            with self.db.errors("listen for new jobs"):
                self.db.dialect.listen(self.db.connection, wake, stop)
        finally:
            self.db.reset()  # the listening connection is this thread's alone

    def prune(self, successful_before: datetime, failed_before: datetime, batch_size: int) -> Pruned:
        jobs = 0
        for statuses, before in (
            ((JobStatus.SUCCESSFUL,), successful_before),
            ((JobStatus.FAILED, JobStatus.CANCELLED), failed_before),
        ):
            sql = self.db.sql.prune_jobs(len(statuses))
            jobs += self._delete_in_batches(sql, (*statuses, self.db.time(before)), batch_size)
        slots_before = self.db.time(min(successful_before, failed_before))
        schedule_runs = self._delete_in_batches(self.db.sql.prune_slots, (slots_before,), batch_size)
        return Pruned(jobs=jobs, schedule_runs=schedule_runs)

    def _delete_in_batches(self, sql: str, params: tuple[Any, ...], batch_size: int) -> int:
        """Run a bounded DELETE, one transaction each, until a batch comes back short."""
        # Only in a transaction of its own: inside a caller's, the setting would hold for its commit too.
        no_flush = None if self.db.connection.in_atomic_block else self.db.dialect.commit_without_flush
        deleted = 0
        while True:
            with self.db.atomic("prune finished jobs") as cursor:
                if no_flush:
                    cursor.execute(no_flush)
                cursor.execute(sql, (*params, batch_size))
                count = cursor.rowcount
            deleted += count
            if count < batch_size:
                return deleted

    def reset_connection(self) -> None:
        self.db.reset()
