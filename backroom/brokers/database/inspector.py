"""The reading and acting half of the database store: counts and lists through the ORM, actions as SQL.

Counts use the job table's partial indexes; listings pick ids through the
ORM (newest first: ids are time-ordered UUIDv7) and read the rows through
the codec, so a row edited into nonsense shows as a failed job instead of
breaking the page. Actions change only jobs in the state they name, so a
click on a stale page changes nothing it should not.
"""

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Count, F, Max, Min, Q, QuerySet, TextField, Window
from django.db.models.functions import Cast, RowNumber, TruncMinute

from ...jobs.json import dumps
from ...jobs.records import JobRecord, JobStatus
from ...models import Job
from .. import inspection
from ..contract import Cancelled, cancellation_error
from . import codec
from .connection import Database
from .links import settle, stored_links


def _utc_minute() -> TruncMinute:
    return TruncMinute("finished_at", tzinfo=UTC if settings.USE_TZ else None)


def _as_text(column: str) -> Cast:
    """A time column as the database prints it: Django's SQLite converters and time functions raise
    on text shaped like a time that is none (edited by hand), the codec does not."""
    return Cast(column, output_field=TextField())


def _time(text: str | None) -> datetime | None:
    try:
        return codec.to_datetime(text)
    except ValueError:  # shaped like a time, but none ("2024-13-45T99:99")
        return None


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


class DatabaseInspector:
    """What people read and do to the jobs of the Django database named ``alias``."""

    def __init__(self, alias: str) -> None:
        self.db = Database(alias)

    def _jobs(self) -> QuerySet[Job]:
        return Job.objects.using(self.db.alias)

    def get(self, job_id: str) -> JobRecord | None:
        try:
            self.db.id(job_id)
        except ValueError:
            return None
        return self.db.jobs_by_id([job_id], f"read job {job_id}").get(job_id)

    # Reading.

    def queue_stats(self, now: datetime) -> list[inspection.QueueStats]:
        """Three counts, each over the rows one index serves (the job table may hold millions of
        finished rows): jobs waiting for a worker, jobs held by one, failed jobs."""
        # Only columns of the ready index, so that PostgreSQL counts from the index alone.
        due = Q(available_at__lte=now)
        per_status = {
            "total": Count("*"),
            "due": Count("available_at", filter=due),
            "oldest": Min("available_at", filter=due),
        }
        # Not the workflow jobs waiting for their parents: they are neither ready nor scheduled.
        waiting = self._jobs().filter(
            status=JobStatus.READY, worker_id__isnull=True, available_at__lt=codec.waiting_until()
        )
        held = self._jobs().filter(
            Q(worker_id__isnull=False) | Q(status=JobStatus.RUNNING),
            status__in=[JobStatus.READY, JobStatus.RUNNING],
        )
        failed = self._jobs().filter(status=JobStatus.FAILED)
        counts: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"ready": 0, "scheduled": 0, "running": 0, "failed": 0, "oldest_ready_at": None}
        )
        with self.db.errors("count jobs"):
            queries = [
                (JobStatus.READY, waiting.values("queue_name").annotate(**per_status).order_by()),
                (None, held.values("queue_name", "status").annotate(**per_status).order_by()),
                (JobStatus.FAILED, failed.values("queue_name").annotate(total=Count("*")).order_by()),
            ]
            rows = [
                {"status": status, **cast(dict[str, Any], row)} for status, query in queries for row in query
            ]
            for row in rows:
                queue = counts[row["queue_name"]]
                if row["status"] == JobStatus.READY:
                    queue["ready"] += row["due"]
                    queue["scheduled"] += row["total"] - row["due"]
                    known = [at for at in (queue["oldest_ready_at"], row["oldest"]) if at is not None]
                    queue["oldest_ready_at"] = min(known, default=None)
                else:
                    queue[row["status"].lower()] += row["total"]
        return [inspection.QueueStats(queue_name=name, **values) for name, values in sorted(counts.items())]

    def throughput(self, since: datetime) -> list[inspection.FinishedCount]:
        rows = (
            self._jobs()
            .filter(status__in=[JobStatus.SUCCESSFUL, JobStatus.FAILED], finished_at__gte=since)
            .annotate(minute=_utc_minute())
            .values("queue_name", "minute")
            .annotate(
                successful=Count("pk", filter=Q(status=JobStatus.SUCCESSFUL)),
                failed=Count("pk", filter=Q(status=JobStatus.FAILED)),
            )
            .order_by("queue_name", "minute")
        )
        with self.db.errors("count finished jobs"):
            return [inspection.FinishedCount(**row) for row in rows]

    def timings(self, since: datetime, bucket: timedelta, sample_per_minute: int) -> list[inspection.Timings]:
        minute = _utc_minute()
        sample = (
            self._jobs()
            .filter(
                status__in=[JobStatus.SUCCESSFUL, JobStatus.FAILED],
                finished_at__gte=since,
                last_attempted_at__isnull=False,
            )
            .annotate(
                minute=minute,
                rank=Window(
                    RowNumber(), partition_by=[F("queue_name"), minute], order_by=F("finished_at").desc()
                ),
                available=_as_text("available_at"),
                attempted=_as_text("last_attempted_at"),
                finished=_as_text("finished_at"),
            )
            .filter(rank__lte=sample_per_minute)
            .values_list("queue_name", "available", "attempted", "finished")
        )
        samples = inspection.TimingSamples(since, bucket)
        with self.db.errors("measure wait and run times"):
            rows = list(sample)
        for queue_name, *texts in rows:
            available, attempted, finished = (_time(text) for text in texts)
            if available and attempted and finished:  # else a row edited into nonsense: no sample
                samples.add(
                    queue_name, finished, _seconds(available, attempted), _seconds(attempted, finished)
                )
        return samples.timings()

    def failed_tasks(self, limit: int) -> list[inspection.TaskFailures]:
        rows = (
            self._jobs()
            .filter(status=JobStatus.FAILED)
            .values("task_path")
            .annotate(count=Count("pk"), last_failed_at=Max("finished_at"))
            .order_by("-count", "task_path")[:limit]
        )
        with self.db.errors("count failed jobs"):
            return [inspection.TaskFailures(**row) for row in rows]

    def jobs(self, where: inspection.JobFilter, offset: int, limit: int) -> inspection.JobPage:
        lookups = {
            "queue_name": where.queue_name,
            "task_path__icontains": where.task,
            "status": where.status,
            "enqueued_at__gte": where.enqueued_after,
            "enqueued_at__lt": where.enqueued_before,
            "id__istartswith": where.id_prefix,
        }
        query = self._jobs().filter(**{lookup: value for lookup, value in lookups.items() if value})
        with self.db.errors("list jobs"):
            page_ids = query.order_by("-id").values_list("id", flat=True)[offset : offset + limit + 1]
            ids = [str(pk) for pk in page_ids]
        found = self.db.jobs_by_id(ids, "list jobs")
        page = [found[job_id] for job_id in ids if job_id in found]
        return inspection.JobPage(jobs=page[:limit], has_next=len(ids) > limit)

    def workers(self) -> list[inspection.WorkerState]:
        db = self.db
        with db.cursor("list workers") as cursor:
            cursor.execute(db.sql.select_running)
            running = inspection.running_jobs(db.fetch_jobs(cursor))
            cursor.execute(db.sql.select_workers)
            rows = cursor.fetchall()
        states = []
        for worker_id, hostname, pid, queues, concurrency, backend, started_at, beat, abandoned in rows:
            states.append(
                inspection.WorkerState(
                    id=worker_id,
                    hostname=hostname,
                    pid=pid,
                    queues=_names(queues),
                    concurrency=concurrency,
                    backend=backend,
                    started_at=codec.to_datetime(started_at),  # type: ignore[arg-type]
                    last_heartbeat_at=codec.to_datetime(beat),  # type: ignore[arg-type]
                    running=running.get(worker_id, []),
                    abandoned_threads=abandoned,
                )
            )
        return states

    # Acting.

    def _changed(self, sql: str, params: tuple[Any, ...], doing: str) -> int:
        with self.db.atomic(doing) as cursor:
            cursor.execute(sql, params)
            return len(cursor.fetchall()) if cursor.description else max(cursor.rowcount, 0)

    def retry_job(self, job_id: str, now: datetime) -> bool:
        try:
            db_id = self.db.id(job_id)
        except ValueError:
            return False
        try:
            return self._changed(self.db.sql.retry_one, (self.db.time(now), db_id), f"retry job {job_id}") > 0
        except IntegrityError:
            return False  # another active job holds its unique key

    def cancel(self, job_id: str, now: datetime, by: str) -> Cancelled:
        db = self.db
        try:
            db_id = db.id(job_id)
        except ValueError:
            return Cancelled.UNKNOWN
        error = cancellation_error(by, now)
        with db.atomic(f"cancel job {job_id}") as cursor:
            cursor.execute(db.sql.cancel, (db.time(now), dumps(error.to_json()), db_id))
            if cursor.rowcount:
                # A workflow job stops its successors in the same transaction (others link nothing).
                links = stored_links(db, cursor, db_id)
                settle(db, cursor, job_id, links, JobStatus.CANCELLED, now, cause=error)
                return Cancelled.CANCELLED
        if self._changed(db.sql.request_cancel, (db_id,), f"cancel job {job_id}"):
            return Cancelled.REQUESTED
        with db.cursor(f"cancel job {job_id}") as cursor:
            cursor.execute(db.sql.select_status, (db_id,))
            found = cursor.fetchone()
        return Cancelled.UNKNOWN if found is None else Cancelled.FINISHED

    def retry_failed(self, task_path: str, now: datetime) -> int:
        db = self.db
        doing = f"retry failed jobs of {task_path}"
        retried = self._changed(db.sql.retry_unkeyed_failed, (db.time(now), task_path), doing)
        # Jobs with a unique key go one by one: two of them may share a key, and only one can be active.
        with db.cursor(doing) as cursor:
            cursor.execute(db.sql.select_keyed_failed, (task_path,))
            keyed = [codec.job_id(row[0]) for row in cursor.fetchall()]
        return retried + sum(self.retry_job(job_id, now) for job_id in keyed)

    def delete_failed(self, task_path: str) -> int:
        return self._changed(self.db.sql.delete_failed, (task_path,), f"delete failed jobs of {task_path}")

    def pause_queue(self, queue_name: str, now: datetime, by: str) -> bool:
        params = (queue_name, self.db.time(now), by)
        return self._changed(self.db.sql.pause_queue, params, f"pause queue {queue_name}") > 0

    def resume_queue(self, queue_name: str) -> bool:
        return self._changed(self.db.sql.resume_queue, (queue_name,), f"resume queue {queue_name}") > 0

    def paused_queues(self) -> list[str]:
        with self.db.cursor("list paused queues") as cursor:
            cursor.execute(self.db.sql.select_paused)
            return [row[0] for row in cursor.fetchall()]


def _names(value: Any) -> list[str]:
    """A worker's queue list as stored (JSON text, or already a list)."""
    try:
        names = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []
