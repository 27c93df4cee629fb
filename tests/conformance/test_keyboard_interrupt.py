"""A task that raises KeyboardInterrupt, run by a real worker on every store.

Django's ImmediateBackend runs a task inside ``enqueue()``, in the process a
user may interrupt with Ctrl-C, so it lets KeyboardInterrupt through
(test_immediate_backend.test_throws_keyboard_interrupt). In a worker no Ctrl-C
reaches task code: the worker's SIGINT handler turns it into a graceful stop
(tests/core/test_processes.py). A KeyboardInterrupt raised by a task is then
the task's own failure, and the reference worker of Django's Tasks (the
database backend of django-tasks, test_keyboard_interrupt_task) records it so:
FAILED with the exception, the worker going on and exiting 0. That is what
applies here.

It has its own worker, apart from tests/conformance/test_django_scenarios.py:
a worker that let the interrupt through would not finish the other scenarios.
"""

from backroom.compat import TaskResultStatus

from . import tasks


def test_keyboard_interrupt_task(store, worker_process):
    interrupted = tasks.failing_task_keyboard_interrupt.using(backend=store, priority=10).enqueue()
    after = tasks.calculate_meaning_of_life.using(backend=store).enqueue()
    worker = worker_process("--backend", store, "--burst", "--concurrency", "1")
    # A worker whose job thread died with the interrupt would hold the job and never drain.
    assert worker.wait(timeout=15) == 0, worker.output()

    interrupted.refresh()
    assert (interrupted.status, interrupted.attempts) == (TaskResultStatus.FAILED, 1)
    assert [e.exception_class for e in interrupted.errors] == [KeyboardInterrupt]
    assert interrupted.errors[0].traceback.endswith(
        "KeyboardInterrupt: This Task failed due to KeyboardInterrupt\n"
    )
    after.refresh()
    assert (after.status, after.return_value) == (TaskResultStatus.SUCCESSFUL, 42)
