"""``Inspector`` for the database broker: reads through the ORM, actions as guarded SQL.

Reads use the job table's indexes: the partial ready and running indexes,
(status, finished_at) for history and failures, (task_path, status) for a
task's failures. History reads cover a bounded window. Actions that make a
job READY notify waiting workers the way enqueue does.
"""

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, QuerySet, Window
from django.db.models.functions import RowNumber, TruncMinute
from django.utils.functional import cached_property

from ..models import Job, JobStatus, Worker
from .base import JobRecord
from .dialects import Dialect
from .inspection import (
    FinishedCount,
    JobFilter,
    JobPage,
    QueueStats,
    RunningJob,
    TaskFailures,
    Timings,
    WorkerState,
    percentile,
)

CANCELLED_ERROR = "backroom.exceptions.JobCancelled"
# What a retry sets: READY now, a clean slate for the next attempt, and room for it.
_RETRY_SET = (
    "status = 'READY', available_at = %s, finished_at = NULL, return_value = NULL, progress = NULL, "
    "cancel_requested = false, worker_id = NULL, lease_expires_at = NULL, "
    "max_attempts = CASE WHEN max_attempts > attempts THEN max_attempts ELSE attempts + 1 END"
)


class InspectionStatements:
    """The SQL of the actions for one dialect, built once."""

    def __init__(self, d: Dialect) -> None:
        # Wrapped like an insert, so that PostgreSQL notifies idle workers in the same statement.
        self.retry_one = d.insert_returning(
            f"UPDATE backroom_job SET {_RETRY_SET} WHERE id = %s AND status IN ('FAILED', 'CANCELLED')"
        )
        self.retry_unkeyed_failed = d.insert_returning(
            f"UPDATE backroom_job SET {_RETRY_SET} "
            "WHERE task_path = %s AND status = 'FAILED' AND unique_key IS NULL"
        )
        self.select_keyed_failed = (
            "SELECT id FROM backroom_job "
            "WHERE task_path = %s AND status = 'FAILED' AND unique_key IS NOT NULL"
        )
        self.cancel = (
            "UPDATE backroom_job SET status = 'CANCELLED', finished_at = %s, "
            f"errors = {d.json_append('errors', d.json_param)} "
            "WHERE id = %s AND status = 'READY'"
        )
        self.request_cancel = (
            "UPDATE backroom_job SET cancel_requested = true WHERE id = %s AND status = 'RUNNING'"
        )
        self.delete_failed = "DELETE FROM backroom_job WHERE task_path = %s AND status = 'FAILED'"


def _utc_minute() -> TruncMinute:
    return TruncMinute("finished_at", tzinfo=UTC if settings.USE_TZ else None)


def _duration(start: str, end: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _seconds(value: timedelta | None) -> float:
    return max(0.0, value.total_seconds()) if value is not None else 0.0


def _bucket_start(moment: datetime, since: datetime, bucket: timedelta) -> datetime:
    return since + bucket * ((moment - since) // bucket)


class DatabaseInspection:
    """The Inspector half of DatabaseBroker (mixed into it)."""

    alias: str

    if TYPE_CHECKING:  # provided by DatabaseBroker

        @property
        def connection(self) -> BaseDatabaseWrapper: ...

        @property
        def dialect(self) -> Dialect: ...

        def _db_id(self, job_id: str) -> Any: ...

        def _db_datetime(self, value: datetime | None) -> Any: ...

    @cached_property
    def inspection_sql(self) -> InspectionStatements:
        return InspectionStatements(self.dialect)

    def _jobs(self) -> QuerySet[Job]:
        return Job.objects.using(self.alias)

    # Reading.

    def queue_stats(self, now: datetime) -> list[QueueStats]:
        due = Q(status=JobStatus.READY, available_at__lte=now)
        rows = (
            self._jobs()
            .filter(status__in=[JobStatus.READY, JobStatus.RUNNING, JobStatus.FAILED])
            .values("queue_name", "status")
            .annotate(total=Count("pk"), due=Count("pk", filter=due), oldest=Min("available_at", filter=due))
            .order_by()
        )
        counts: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"ready": 0, "scheduled": 0, "running": 0, "failed": 0, "oldest_ready_at": None}
        )
        for row in rows:
            queue = counts[row["queue_name"]]
            if row["status"] == JobStatus.READY:
                queue["ready"] = row["due"]
                queue["scheduled"] = row["total"] - row["due"]
                queue["oldest_ready_at"] = row["oldest"]
            else:
                queue[row["status"].lower()] = row["total"]
        return [QueueStats(queue_name=name, **values) for name, values in sorted(counts.items())]

    def throughput(self, since: datetime) -> list[FinishedCount]:
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
        return [FinishedCount(**row) for row in rows]

    def timings(self, since: datetime, bucket: timedelta, sample_per_minute: int) -> list[Timings]:
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
                wait=_duration("available_at", "last_attempted_at"),
                run=_duration("last_attempted_at", "finished_at"),
                rank=Window(
                    RowNumber(), partition_by=[F("queue_name"), minute], order_by=F("finished_at").desc()
                ),
            )
            .filter(rank__lte=sample_per_minute)
            .values_list("queue_name", "finished_at", "wait", "run")
        )
        groups: dict[tuple[str, datetime], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
        for queue_name, finished_at, wait, run in sample:
            finished = cast(datetime, finished_at)  # the filter excludes unfinished jobs
            waits, runs = groups[queue_name, _bucket_start(finished, since, bucket)]
            waits.append(_seconds(wait))
            runs.append(_seconds(run))
        return [
            Timings(
                queue_name=queue_name,
                start=start,
                samples=len(waits),
                wait_p50_seconds=percentile(waits, 0.5),
                wait_p95_seconds=percentile(waits, 0.95),
                run_p50_seconds=percentile(runs, 0.5),
                run_p95_seconds=percentile(runs, 0.95),
            )
            for (queue_name, start), (waits, runs) in sorted(groups.items())
        ]

    def failed_tasks(self, limit: int) -> list[TaskFailures]:
        rows = (
            self._jobs()
            .filter(status=JobStatus.FAILED)
            .values("task_path")
            .annotate(count=Count("pk"), last_failed_at=Max("finished_at"))
            .order_by("-count", "task_path")[:limit]
        )
        return [TaskFailures(**row) for row in rows]

    def jobs(self, where: JobFilter, offset: int, limit: int) -> JobPage:
        query = self._jobs()
        if where.queue_name:
            query = query.filter(queue_name=where.queue_name)
        if where.task:
            query = query.filter(task_path__icontains=where.task)
        if where.status:
            query = query.filter(status=where.status)
        if where.enqueued_after:
            query = query.filter(enqueued_at__gte=where.enqueued_after)
        if where.enqueued_before:
            query = query.filter(enqueued_at__lt=where.enqueued_before)
        if where.id_prefix:
            query = query.filter(id__istartswith=where.id_prefix)
        # The id breaks ties, so that pages never overlap or skip a job.
        page = query.order_by("-enqueued_at", "-id")[offset : offset + limit + 1]
        found = [_record(job) for job in page]
        return JobPage(jobs=found[:limit], has_next=len(found) > limit)

    def workers(self) -> list[WorkerState]:
        running: dict[str, list[RunningJob]] = defaultdict(list)
        for job in self._jobs().filter(status=JobStatus.RUNNING).order_by("last_attempted_at"):
            running[job.worker_id or ""].append(
                RunningJob(
                    id=str(job.id),
                    task_path=job.task_path,
                    queue_name=job.queue_name,
                    attempt=job.attempts,
                    started_at=job.last_attempted_at,
                    progress=job.progress,
                )
            )
        return [
            WorkerState(
                id=worker.id,
                hostname=worker.hostname,
                pid=worker.pid,
                queues=list(worker.queues),
                concurrency=worker.concurrency,
                backend=worker.backend,
                started_at=worker.started_at,
                last_heartbeat_at=worker.last_heartbeat_at,
                running=running.get(worker.id, []),
            )
            for worker in Worker.objects.using(self.alias).all()
        ]

    # Acting.

    def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return len(cursor.fetchall()) if cursor.description else max(cursor.rowcount, 0)

    def retry_job(self, job_id: str, now: datetime) -> bool:
        try:
            db_id = self._db_id(job_id)
        except ValueError:
            return False
        try:
            return self._count(self.inspection_sql.retry_one, (self._db_datetime(now), db_id)) > 0
        except IntegrityError:
            return False  # another active job holds its unique key

    def cancel_job(self, job_id: str, now: datetime, by: str) -> bool:
        try:
            db_id = self._db_id(job_id)
        except ValueError:
            return False
        error = {
            "exception_class_path": CANCELLED_ERROR,
            "traceback": f"{CANCELLED_ERROR}: cancelled by {by}\n",
            "worker_id": None,
            "at": now.isoformat(),
            "cancelled_by": by,
        }
        params = (self._db_datetime(now), json.dumps(error), db_id)
        return self._count(self.inspection_sql.cancel, params) > 0

    def request_cancel(self, job_id: str) -> bool:
        try:
            db_id = self._db_id(job_id)
        except ValueError:
            return False
        return self._count(self.inspection_sql.request_cancel, (db_id,)) > 0

    def retry_failed(self, task_path: str, now: datetime) -> int:
        retried = self._count(self.inspection_sql.retry_unkeyed_failed, (self._db_datetime(now), task_path))
        # Jobs with a unique key go one by one: two of them may share a key, and only one can be active.
        with self.connection.cursor() as cursor:
            cursor.execute(self.inspection_sql.select_keyed_failed, (task_path,))
            keyed = [_job_id(row[0]) for row in cursor.fetchall()]
        return retried + sum(self.retry_job(job_id, now) for job_id in keyed)

    def delete_failed(self, task_path: str) -> int:
        return self._count(self.inspection_sql.delete_failed, (task_path,))


def _job_id(value: Any) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def _record(job: Job) -> JobRecord:
    return JobRecord(
        id=str(job.id),
        task_path=job.task_path,
        queue_name=job.queue_name,
        priority=job.priority,
        status=job.status,
        args=job.args,
        kwargs=job.kwargs,
        run_after=job.run_after,
        available_at=job.available_at,
        enqueued_at=job.enqueued_at,
        started_at=job.started_at,
        last_attempted_at=job.last_attempted_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        timeout_seconds=job.timeout_seconds,
        retry=job.retry,
        unique_key=job.unique_key,
        worker_id=job.worker_id,
        worker_ids=job.worker_ids,
        errors=job.errors,
        return_value=job.return_value,
        progress=job.progress,
    )
