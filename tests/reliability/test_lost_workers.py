"""Workers that die: what they held comes back fast, uncharged unless started, and poison runs alone."""

import signal
import time

from backroom.exceptions import WorkerLost
from tests import tasks
from tests.chaos import tasks as chaos_tasks
from tests.support import runs, stored_job, wait_until, worker_count

WORKER_LOST = f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"
#: A lease no test waits out: jobs back sooner come back on evidence of the death.
LONG_LEASE = {"BACKROOM_TEST_LEASE_SECONDS": "60"}


def test_a_killed_worker_s_jobs_held_ahead_come_back_uncharged(store, worker_process):
    """Only the job on the killed worker's one thread is charged; those it held ahead are not."""
    task = tasks.sleep_then_record.using(backend=store, max_attempts=2)
    jobs = [task.enqueue(0.01, f"j-{i}", store) for i in range(150)]
    first = worker_process("--backend", store, "--concurrency", "1", "--prefetch", "32", **LONG_LEASE)
    wait_until(lambda: runs(store).count() >= 20, what="the worker to be well into the queue")
    first.send(signal.SIGKILL)
    first.wait()
    second = worker_process("--backend", store, "--concurrency", "2", **LONG_LEASE)
    wait_until(
        lambda: all(stored_job(store, j.id).status == "SUCCESSFUL" for j in jobs),
        timeout=60,
        what="every job to succeed after the kill",
    )
    second.send(signal.SIGTERM)
    assert second.wait() == 0
    records = [stored_job(store, j.id) for j in jobs]
    charged = [r for r in records if r.attempts > 1]
    assert len(charged) <= 1, [(r.id, r.attempts, r.errors) for r in charged]  # at most the one running
    assert all([e.exception_class_path for e in r.errors] == [WORKER_LOST] for r in charged)
    assert all(r.errors == [] for r in records if r.attempts == 1)


def test_a_dead_worker_s_jobs_are_back_within_seconds_not_a_lease(store, worker_process, tmp_path):
    gate = tmp_path / "gate"
    blocked = tasks.wait_for_file.using(backend=store, max_attempts=2).enqueue(str(gate), "held", store)
    first = worker_process("--backend", store, **LONG_LEASE)
    wait_until(lambda: stored_job(store, blocked.id).status == "RUNNING", what="the job to start")
    second = worker_process("--backend", store, **LONG_LEASE)
    wait_until(lambda: worker_count(store) == 2, what="the second worker to register")
    gate.touch()  # a live worker would finish the job at once; the first is about to die first
    first.send(signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    wait_until(lambda: stored_job(store, blocked.id).status == "SUCCESSFUL", timeout=30, what="the rerun")
    back_after = time.monotonic() - killed_at
    assert back_after < 5, f"back after {back_after:.1f}s: the 60 s lease was waited out"
    second.send(signal.SIGTERM)
    assert second.wait() == 0
    result = stored_job(store, blocked.id)
    assert (result.attempts, [e.exception_class_path for e in result.errors]) == (2, [WORKER_LOST])


def test_a_poison_job_costs_its_neighbours_at_most_the_attempt_they_ran(store, worker_process):
    """300 good jobs beside one that kills its process: every good job ends SUCCESSFUL."""
    good = [
        tasks.sleep_then_record.using(backend=store, max_attempts=3).enqueue(0.005, f"good-{i}", store)
        for i in range(300)
    ]
    poison = chaos_tasks.exit_process.using(backend=store, max_attempts=3, priority=-1).enqueue(3)
    supervisor = worker_process("--backend", store, "--processes", "2", "--concurrency", "2")
    wait_until(
        lambda: (
            stored_job(store, poison.id).status == "FAILED"
            and all(stored_job(store, j.id).status == "SUCCESSFUL" for j in good)
        ),
        timeout=120,
        what="the poison to fail and every good job to succeed",
    )
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0, supervisor.output()
    poisoned = stored_job(store, poison.id)
    assert poisoned.attempts == 3
    assert [e.exception_class_path for e in poisoned.errors] == [WORKER_LOST] * 3
    assert poisoned.orphaned >= 1  # after its first death it ran alone
    neighbours = [stored_job(store, j.id) for j in good]
    assert all(n.attempts <= 2 for n in neighbours), "a good job was charged for more than one death"
    assert runs(store).filter(label__startswith="good-").values("label").distinct().count() == 300
