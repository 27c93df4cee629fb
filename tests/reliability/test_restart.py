"""PostgreSQL stopped and started again in the middle of a run (a private server, never the shared one)."""

import signal
import socket
import time

import pytest

from backroom.compat import task_backends
from backroom.exceptions import StoreUnavailable
from tests.chaos.tasks import chaos_job
from tests.support import runs, wait_until

from .conftest import PRIVATE_ALIAS, extra_store

JOBS = 300
WORKERS = 2
CONCURRENCY = 2
OUTAGE_RETRIES = 6


def _status(job_id):
    return task_backends[PRIVATE_ALIAS].store.broker.get(job_id).status


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_workers_ride_out_a_postgres_restart(private_pg, worker_process):
    # A 60 s poll interval: after the restart only a reconnected LISTEN wakes a worker in time.
    workers = [
        worker_process("--backend", PRIVATE_ALIAS, "--concurrency", str(CONCURRENCY), "--poll-interval", "60")
        for _ in range(WORKERS)
    ]
    task = chaos_job.using(backend=PRIVATE_ALIAS)
    # The tasks record their runs in SQLite, so only backroom's own store goes away.
    ids = [task.enqueue(f"job-{i}", "default", 40).id for i in range(JOBS)]
    wait_until(lambda: runs("default").count() >= JOBS // 4, timeout=60, what="a quarter of the jobs to run")

    private_pg.stop()
    outage_started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable, match=r"database 'pg_private'\) is unavailable"):
            task.enqueue("during-outage", "default", 0)
        enqueue_failed_after = time.monotonic() - outage_started
        assert enqueue_failed_after < 10, "enqueue during the outage must fail promptly"
        # Down until each worker has tried 6 times (after 0.1 + 0.2 + ... + 1.6 s): longer than
        # the 3 s lease, so that every lease runs out while nobody can write.
        for worker in workers:
            wait_until(
                lambda w=worker: w.output().count("is unavailable") >= OUTAGE_RETRIES,
                timeout=60,
                what="the outage to be logged",
            )
        ran_during_outage = runs("default").count()
    finally:
        private_pg.start()
    restarted = time.monotonic()

    wait_until(lambda: all(_status(i) == "SUCCESSFUL" for i in ids), timeout=120, what="every job to succeed")
    print(
        f"restart: jobs={JOBS} ran_before_restart={ran_during_outage} "
        f"enqueue_failed_after={enqueue_failed_after:.3f}s outage={restarted - outage_started:.1f}s "
        f"all_done_after_restart={time.monotonic() - restarted:.1f}s repeats={runs('default').count() - JOBS}"
    )
    labels = list(runs("default").values_list("label", flat=True))
    assert set(labels) == {f"job-{i}" for i in range(JOBS)}
    assert "during-outage" not in labels
    # Every worker lived through the outage: none may take another's jobs for lost, so nothing repeats.
    for worker in workers:
        assert "taken back from lost worker" not in worker.output(), worker.output()
    assert len(labels) == JOBS
    assert ran_during_outage < JOBS, "the outage must fall in the middle of the run"

    after = task.enqueue("after-restart", "default", 0)
    wait_until(lambda: _status(after.id) == "SUCCESSFUL", timeout=15, what="a NOTIFY to wake a worker")
    for worker in workers:
        worker.send(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, worker.output()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_enqueue_to_a_server_that_never_answers_times_out(settings):
    """A host that accepts the connection but never speaks: the connect timeout bounds the wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": "127.0.0.1",
            "PORT": str(silent.getsockname()[1]),
            "USER": "postgres",
            "NAME": "postgres",
            "OPTIONS": {"connect_timeout": 2},
        }
        with extra_store(settings, "pg_silent", database):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="pg_silent"):
                chaos_job.using(backend="pg_silent").enqueue("x", "default", 0)
            assert time.monotonic() - started < 15
