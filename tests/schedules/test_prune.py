"""Pruning finished jobs: retention per outcome, bounded batches, live jobs untouched."""

import threading
import uuid
from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backroom.compat import TaskResultStatus, task_backends
from backroom.models import Job, JobStatus, ScheduleRun
from backroom.scheduler.registry import MAINTENANCE
from backroom.scheduler.retention import Retention, prune
from backroom.scheduler.runner import Scheduler
from tests.support import stored_job


def make_jobs(sql_store: str, status: str, age_days: float, count: int = 1, label: str = "") -> list[str]:
    """Store ``count`` jobs in ``status`` that finished (or were enqueued) ``age_days`` ago."""
    at = timezone.now() - timedelta(days=age_days)
    finished = status in (JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.CANCELLED)
    jobs = [
        Job(
            id=uuid.uuid4(), task_path="tests.tasks.noop", queue_name=label or "default", status=status,
            available_at=at, enqueued_at=at, finished_at=at if finished else None,
            lease_expires_at=at if status == JobStatus.RUNNING else None,
        )
        for _ in range(count)
    ]  # fmt: skip
    Job.objects.using(sql_store).bulk_create(jobs)
    return [str(job.id) for job in jobs]


def remaining(sql_store: str) -> set[str]:
    return {str(i) for i in Job.objects.using(sql_store).values_list("id", flat=True)}


def test_retention_per_outcome_and_live_jobs_untouched(sql_store):
    old_success = make_jobs(sql_store, JobStatus.SUCCESSFUL, 8)
    recent_success = make_jobs(sql_store, JobStatus.SUCCESSFUL, 6)
    old_failure = make_jobs(sql_store, JobStatus.FAILED, 31)
    recent_failure = make_jobs(sql_store, JobStatus.FAILED, 29)
    old_cancelled = make_jobs(sql_store, JobStatus.CANCELLED, 31)
    ancient_ready = make_jobs(sql_store, JobStatus.READY, 400)
    ancient_running = make_jobs(sql_store, JobStatus.RUNNING, 400)
    pruned = prune(task_backends[sql_store].store.broker, Retention(), timezone.now())
    assert pruned.jobs == 3
    gone = set(old_success + old_failure + old_cancelled)
    kept = set(recent_success + recent_failure + ancient_ready + ancient_running)
    assert remaining(sql_store) == kept
    assert not gone & remaining(sql_store)


def test_prune_deletes_in_bounded_batches(sql_store):
    make_jobs(sql_store, JobStatus.SUCCESSFUL, 10, count=25)
    kept = make_jobs(sql_store, JobStatus.SUCCESSFUL, 1, count=3)
    with CaptureQueriesContext(connections[sql_store]) as queries:
        pruned = prune(task_backends[sql_store].store.broker, Retention(batch_size=10), timezone.now())
    assert pruned.jobs == 25
    assert remaining(sql_store) == set(kept)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE FROM backroom_job")]
    assert len(deletes) == 4  # successful: 10 + 10 + 5 (short: done); failed: 0
    assert all("LIMIT 10" in sql for sql in deletes)


def test_prune_keeps_each_schedules_last_run(sql_store):
    backend = task_backends[sql_store]
    now = timezone.now()
    rows = [("hourly", 40), ("hourly", 35), ("hourly", 2), ("yearly", 200), ("yearly", 565)]
    ScheduleRun.objects.using(sql_store).bulk_create(
        ScheduleRun(
            schedule_name=name, slot_at=now - timedelta(days=age), job_id=uuid.uuid4(), enqueued_at=now
        )
        for name, age in rows
    )
    pruned = prune(backend.store.broker, Retention(batch_size=1), now)
    assert pruned.schedule_runs == 3
    left = ScheduleRun.objects.using(sql_store).order_by("schedule_name")
    assert [(r.schedule_name, (now - r.slot_at).days) for r in left] == [("hourly", 2), ("yearly", 200)]
    assert set(backend.store.broker.last_slots(["hourly", "yearly"])) == {"hourly", "yearly"}


def test_prune_skips_rows_another_transaction_holds(pg):
    """PostgreSQL: a row locked elsewhere is skipped, not waited for."""
    [locked] = make_jobs(pg, JobStatus.SUCCESSFUL, 10)
    others = make_jobs(pg, JobStatus.SUCCESSFUL, 10, count=5)
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic(using=pg):
                Job.objects.using(pg).select_for_update().get(id=locked)
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert holding.wait(30)
        pruned = prune(task_backends[pg].store.broker, Retention(batch_size=2), timezone.now())
    finally:
        release.set()
        holder.join(30)
    assert pruned.jobs == len(others)
    assert remaining(pg) == {locked}


def test_prune_commits_without_waiting_for_the_disk_only_in_its_own_transactions(pg):
    """PostgreSQL: each batch's commit skips the WAL flush; a caller's transaction around it keeps its own."""
    make_jobs(pg, JobStatus.SUCCESSFUL, 10, count=3)
    broker = task_backends[pg].store.broker
    with CaptureQueriesContext(connections[pg]) as queries:
        prune(broker, Retention(batch_size=2), timezone.now())
    statements = [q["sql"] for q in queries.captured_queries]
    deletes = [i for i, sql in enumerate(statements) if sql.startswith("DELETE FROM backroom_job")]
    assert all(statements[i - 1] == "SET LOCAL synchronous_commit = off" for i in deletes)

    make_jobs(pg, JobStatus.SUCCESSFUL, 10, count=3)
    with connections[pg].cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        before = cursor.fetchone()[0]
        with transaction.atomic(using=pg):
            assert prune(broker, Retention(batch_size=2), timezone.now()).jobs == 3
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == before


def test_prune_verb(sql_store):
    make_jobs(sql_store, JobStatus.SUCCESSFUL, 3, count=2)
    make_jobs(sql_store, JobStatus.FAILED, 3)
    output = call_and_capture("prune", "--backend", sql_store, "--successful-days", "2")
    assert "Deleted 2 finished jobs and 0 schedule runs (kept: successful 2 days, failed 30 days)." in output
    assert Job.objects.using(sql_store).count() == 1


def test_prune_verb_refuses_nonsense():
    with pytest.raises(CommandError, match="--batch-size: must be at least 1"):
        call_and_capture("prune", "--batch-size", "0")


def test_retention_comes_from_settings(sql_store, settings):
    settings.BACKROOM = {"RETENTION": {"SUCCESSFUL_DAYS": 1, "FAILED_DAYS": 2}}
    make_jobs(sql_store, JobStatus.SUCCESSFUL, 1.5)
    make_jobs(sql_store, JobStatus.FAILED, 1.5)
    output = call_and_capture("prune", "--backend", sql_store)
    assert "Deleted 1 finished jobs" in output
    assert Job.objects.using(sql_store).get().status == JobStatus.FAILED


def test_maintenance_schedule_prunes_the_store_it_runs_on(sql_store, run_worker):
    old = make_jobs(sql_store, JobStatus.SUCCESSFUL, 8, count=3)
    scheduler = Scheduler(task_backends[sql_store].store, [replace(MAINTENANCE, backend=sql_store)])
    now = timezone.now()
    scheduler.tick(now)
    [enqueued] = scheduler.tick(now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    assert run_worker(sql_store) == 0
    job = stored_job(sql_store, enqueued.job_id)
    assert job.status == TaskResultStatus.SUCCESSFUL
    assert job.return_value == {"jobs": 3, "schedule_runs": 0}
    assert not set(old) & remaining(sql_store)


def call_and_capture(*args: str) -> str:
    out = StringIO()
    call_command("backroom", *args, stdout=out)
    return out.getvalue()
