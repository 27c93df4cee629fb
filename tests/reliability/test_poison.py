"""Jobs that take their worker process down, under the supervisor (--processes)."""

import os
import re
import signal

import pytest

from backroom.compat import TaskResultStatus
from tests import tasks
from tests.chaos import tasks as chaos_tasks
from tests.support import runs, stored_job, wait_until

GOOD_JOBS = 30


def _enqueue_good(store):
    return [tasks.record.using(backend=store).enqueue(f"good-{i}", store) for i in range(GOOD_JOBS)]


def _assert_good_jobs_untouched(store, good):
    wait_until(
        lambda: all(stored_job(store, r.id).status == "SUCCESSFUL" for r in good),
        timeout=60,
        what="the good jobs to succeed",
    )
    for result in good:
        result.refresh()
        assert (result.attempts, result.errors) == (1, []), result.id
    assert runs(store).filter(label__startswith="good-").count() == GOOD_JOBS


@pytest.mark.parametrize(
    "poison, args",
    [(chaos_tasks.exit_process, (3,)), (chaos_tasks.segfault, ())],
    ids=["os._exit", "segfault"],
)
def test_poison_job_fails_after_its_attempts_and_harms_no_other(store, worker_process, poison, args):
    # One job per process, none claimed ahead: a poison job takes down only its own process.
    supervisor = worker_process(
        "--backend", store, "--processes", "2", "--concurrency", "1", "--prefetch", "0"
    )  # fmt: skip
    poisoned = poison.using(backend=store, max_attempts=2).enqueue(*args)
    good = _enqueue_good(store)

    wait_until(lambda: stored_job(store, poisoned.id).status == "FAILED", timeout=90, what="poison to fail")
    _assert_good_jobs_untouched(store, good)
    poisoned.refresh()
    assert poisoned.status == TaskResultStatus.FAILED
    assert poisoned.attempts == 2
    assert [e.exception_class_path for e in poisoned.errors] == ["backroom.exceptions.WorkerLost"] * 2
    assert all("worker lost while running" in e.traceback for e in poisoned.errors)
    output = supervisor.output()
    assert len(re.findall(r"worker process pid=\d+ died \((exit code 3|signal SIGSEGV)\)", output)) >= 2, (
        output
    )
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0, supervisor.output()


def test_job_exhausting_memory_under_a_ulimit_fails_readably(store, worker_process):
    supervisor = worker_process(
        "--backend", store, "--processes", "1", "--concurrency", "1", "--prefetch", "0", address_space_mb=1024
    )  # fmt: skip
    hog = chaos_tasks.exhaust_memory.using(backend=store, max_attempts=2).enqueue(64)
    good = _enqueue_good(store)

    wait_until(lambda: stored_job(store, hog.id).status == "FAILED", timeout=90, what="the hog to fail")
    _assert_good_jobs_untouched(store, good)
    hog.refresh()
    assert hog.attempts == 2
    for error in hog.errors:
        # Python raises MemoryError in the task; had the process died instead, the reaper says so.
        assert error.exception_class_path in ("builtins.MemoryError", "backroom.exceptions.WorkerLost")
        assert "MemoryError" in error.traceback or "worker lost while running" in error.traceback
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0, supervisor.output()


def test_children_stop_when_the_supervisor_is_killed(store, worker_process):
    supervisor = worker_process("--backend", store, "--processes", "2")
    wait_until(lambda: len(re.findall(r"worker starting id=\S+-(\d+)-", supervisor.output())) == 2)
    children = [int(pid) for pid in re.findall(r"worker starting id=\S+-(\d+)-", supervisor.output())]
    supervisor.send(signal.SIGKILL)
    supervisor.wait()

    def gone(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(lambda: all(gone(pid) for pid in children), timeout=30, what="orphaned workers to stop")
