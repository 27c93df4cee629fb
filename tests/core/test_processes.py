"""Worker processes: crash recovery, graceful shutdown, and concurrent workers."""

import signal
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from backroom.compat import TaskResultStatus
from backroom.models import Job, Worker
from tests import tasks
from tests.support import runs, stored_job, wait_until, worker_count


def _listening(alias):
    """Whether a session on this database has run LISTEN (the worker's listener), and it took effect.

    Idle, not active: a LISTEN counts from its commit, and a NOTIFY committed
    while it still runs is not delivered to it.
    """
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN %%' AND state = 'idle' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def _started(store, label):
    return runs(store).filter(label=f"{label}:started").count()


def test_killed_worker_job_is_finished_by_another(store, worker_process, tmp_path):
    gate = tmp_path / "gate"
    result = tasks.wait_for_file.using(backend=store, max_attempts=3).enqueue(str(gate), "job", store)

    first = worker_process("--backend", store)
    wait_until(lambda: _started(store, "job") == 1, what="the first worker to start the job")
    # Its start written too: killed before that, the job comes back READY, uncharged, without an error.
    wait_until(lambda: stored_job(store, result.id).status == "RUNNING", what="the start to be written")
    first_id = stored_job(store, result.id).worker_id
    first.send(signal.SIGKILL)
    first.wait()
    gate.touch()

    second = worker_process("--backend", store)
    # The process is gone: another worker takes the job back on that evidence, before its lease ends.
    wait_until(
        lambda: stored_job(store, result.id).status == "SUCCESSFUL",
        timeout=30,
        what="the second worker to finish the job",
    )
    result.refresh()
    assert result.attempts == 2
    assert result.worker_ids[0] == first_id
    assert result.worker_ids[1] != first_id
    assert [e.exception_class_path for e in result.errors] == ["backroom.exceptions.WorkerLost"]
    assert "worker lost while running" in result.errors[0].traceback
    assert runs(store).filter(label="job").count() == 1
    assert "taken back from lost worker" in second.output()


def test_lost_worker_fails_the_job_when_attempts_are_used_up(store, worker_process, tmp_path):
    result = tasks.wait_for_file.using(backend=store, max_attempts=1).enqueue(
        str(tmp_path / "never"), "job", store
    )
    first = worker_process("--backend", store)
    wait_until(lambda: _started(store, "job") == 1)
    # Its start written too: killed before that, the job comes back READY, uncharged, and runs again.
    wait_until(lambda: stored_job(store, result.id).status == "RUNNING", what="the start to be written")
    first.send(signal.SIGKILL)
    first.wait()
    worker_process("--backend", store)
    wait_until(lambda: stored_job(store, result.id).status == "FAILED", timeout=30)
    result.refresh()
    assert result.attempts == 1
    assert result.errors[0].exception_class_path == "backroom.exceptions.WorkerLost"


def test_sigterm_lets_the_running_job_finish(store, worker_process, tmp_path):
    gate = tmp_path / "gate"
    result = tasks.wait_for_file.using(backend=store).enqueue(str(gate), "job", store)
    worker = worker_process("--backend", store, "--grace", "30")
    wait_until(lambda: _started(store, "job") == 1)
    worker.send(signal.SIGTERM)
    # A job enqueued after the signal must not be taken.
    later = tasks.record.using(backend=store).enqueue("later", store)
    gate.touch()
    assert worker.wait() == 0, worker.output()
    result.refresh()
    later.refresh()
    assert (result.status, result.attempts) == (TaskResultStatus.SUCCESSFUL, 1)
    assert later.status == TaskResultStatus.READY
    assert worker_count(store) == 0  # unregistered on the way out


def test_sigterm_hands_back_a_job_that_outlives_the_grace_period(store, worker_process, tmp_path):
    result = tasks.wait_for_file.using(backend=store).enqueue(str(tmp_path / "never"), "job", store)
    worker = worker_process("--backend", store, "--grace", "0.5")
    wait_until(lambda: _started(store, "job") == 1)
    worker.send(signal.SIGTERM)
    assert worker.wait() == 0, worker.output()
    job = stored_job(store, result.id)
    # Handed back without charging the attempt, and without an error.
    assert (job.status, job.attempts, job.errors, job.worker_ids) == ("READY", 0, [], [])
    assert "handing back 1 unfinished jobs" in worker.output()


def test_second_signal_stops_at_once(store, worker_process, tmp_path):
    result = tasks.wait_for_file.using(backend=store).enqueue(str(tmp_path / "never"), "job", store)
    worker = worker_process("--backend", store, "--grace", "600")
    wait_until(lambda: _started(store, "job") == 1)
    worker.send(signal.SIGTERM)
    worker.send(signal.SIGINT)
    assert worker.wait(timeout=15) == 1
    assert stored_job(store, result.id).status == "READY"


def test_two_workers_never_run_a_job_twice(pg, worker_process):
    count = 600
    workers = [worker_process("--backend", pg, "--concurrency", "4") for _ in range(2)]
    wait_until(lambda: Worker.objects.using(pg).count() == 2, what="both workers to register")
    task = tasks.record.using(backend=pg)
    for i in range(count):
        task.enqueue(f"job-{i}", pg)
    wait_until(
        lambda: Job.objects.using(pg).filter(status="SUCCESSFUL").count() == count,
        timeout=120,
        what="every job to succeed",
    )
    for worker in workers:
        worker.send(signal.SIGTERM)
        assert worker.wait() == 0, worker.output()
    assert runs(pg).count() == count
    assert runs(pg).values("label").distinct().count() == count
    # Both workers took part: the claim is shared, not one worker taking all.
    assert runs(pg).values("pid").distinct().count() == 2


def test_idle_worker_wakes_on_notify(pg, worker_process):
    worker = worker_process("--backend", pg, "--poll-interval", "60")
    wait_until(lambda: Worker.objects.using(pg).exists(), what="the worker to register")
    wait_until(lambda: _listening(pg), what="the worker's listener to LISTEN")
    result = tasks.record.using(backend=pg).enqueue("notified", pg)
    # With a 60 s poll interval, only the NOTIFY can wake the worker in time.
    wait_until(lambda: runs(pg).filter(label="notified").exists(), timeout=10)
    worker.send(signal.SIGTERM)
    assert worker.wait() == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_heartbeat_continues_while_jobs_drain_on_shutdown(store, worker_process, tmp_path):
    if store not in settings.DATABASES:
        pytest.skip("reads the lease from the SQL job table; tests/redis covers Redis leases")
    gate = tmp_path / "gate"
    result = tasks.wait_for_file.using(backend=store).enqueue(str(gate), "job", store)
    worker = worker_process("--backend", store, "--grace", "60")
    wait_until(lambda: _started(store, "job") == 1)
    worker.send(signal.SIGTERM)
    stopped_at = timezone.now()
    lease = settings.TASKS[store]["OPTIONS"]["LEASE_SECONDS"]
    # Past the lease that was current at the signal: only a heartbeat during the drain extends it.
    wait_until(
        lambda: (
            Job.objects.using(store).get(id=result.id).lease_expires_at
            > stopped_at + timedelta(seconds=lease + 1)
        ),
        timeout=30,
        what="the lease to be extended during the shutdown grace period",
    )
    gate.touch()
    assert worker.wait() == 0, worker.output()
    result.refresh()
    assert (result.status, result.attempts, result.errors) == (TaskResultStatus.SUCCESSFUL, 1, [])
