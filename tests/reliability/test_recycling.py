"""Workers that recycle themselves under the supervisor lose nothing and charge nothing."""

import os
import re
import signal

import pytest
from django.core.management import CommandError, call_command

from backroom.backends.stores import store_for
from backroom.compat import task_backends
from backroom.worker.runner import Worker, WorkerOptions
from backroom.worker.supervisor import Supervisor
from tests import tasks
from tests.chaos import tasks as chaos_tasks
from tests.support import runs, stored_job, wait_until


def _all_successful_once(store, results, label_prefix):
    wait_until(
        lambda: all(stored_job(store, r.id).status == "SUCCESSFUL" for r in results),
        timeout=120,
        what="every job to succeed",
    )
    for result in results:
        result.refresh()
        assert (result.attempts, result.errors) == (1, []), result.id
    assert runs(store).filter(label__startswith=label_prefix).count() == len(results)


def test_max_jobs_recycles_the_process(store, worker_process):
    supervisor = worker_process(
        "--backend", store, "--processes", "1", "--concurrency", "3", "--max-jobs", "20"
    )
    results = [tasks.record.using(backend=store).enqueue(f"job-{i}", store) for i in range(100)]
    _all_successful_once(store, results, "job-")
    assert runs(store).values("pid").distinct().count() >= 5
    assert "recycled after" in supervisor.output()
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0, supervisor.output()


def test_max_memory_recycles_the_process(store, worker_process):
    supervisor = worker_process(
        "--backend", store, "--processes", "1", "--concurrency", "1", "--max-memory", "150"
    )
    results = [chaos_tasks.leak_memory.using(backend=store).enqueue(f"leak-{i}", store, 40) for i in range(8)]
    _all_successful_once(store, results, "leak-")
    output = supervisor.output()
    assert re.search(r"uses \d+ MB, over --max-memory 150 MB; recycling", output), output
    assert runs(store).values("pid").distinct().count() >= 2
    supervisor.send(signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0, output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--processes", "0"], "--processes: must be at least 1"),
        (["--max-memory", "0"], "--max-memory: must be at least 1"),
        (["--processes", "2", "--burst"], "cannot be combined with --processes"),
    ],
)
def test_supervisor_options_are_checked(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("backroom", "worker", *args)


def test_a_signal_while_recycling_is_a_first_request_not_a_second():
    """--max-jobs and --max-memory set ``stop`` themselves; a SIGTERM then must still drain gracefully."""
    worker = Worker(task_backends["default"].store, WorkerOptions())
    worker.stop.set()  # what recycling does
    worker.request_stop()
    assert not worker.abort.is_set()
    worker.request_stop()
    assert worker.abort.is_set()


@pytest.mark.django_db(transaction=True)
def test_a_stop_sent_while_a_worker_process_starts_is_not_lost(tmp_path):
    """A SIGTERM passed on before a new worker process installs its handlers waits for them."""
    gate = tmp_path / "gate"

    def make_worker():
        wait_until(gate.exists, timeout=30, what="the test's signal")  # a slow start: the signal comes first
        return Worker(store_for("default"), WorkerOptions(concurrency=1))

    supervisor = Supervisor(1, make_worker)
    supervisor._start_child()
    [child] = supervisor.children
    os.kill(child.pid, signal.SIGTERM)
    gate.touch()
    child.join(timeout=30)
    assert child.exitcode == 0  # stopped gracefully, neither killed by the signal nor running on
