"""The tasks the conformance suite enqueues: the shapes of Django's tests/tasks/tasks.py,
written for a worker in another process."""

import os
import time

from backroom.compat import TaskContext, task
from backroom.exceptions import JobCancelled


@task
def noop_task(*args, **kwargs):
    return None


@task
async def noop_task_async(*args, **kwargs):
    return None


@task
def calculate_meaning_of_life():
    return 42


@task
def echo(*args, **kwargs):
    """Return the call as the worker received it."""
    return {"args": args, "kwargs": kwargs}


@task
def double_dictionary(key):
    """Django's documentation example: a tuple argument arrives as a list, which cannot be a key."""
    return {key: key * 2}


@task
def failing_task_value_error():
    raise ValueError("This Task failed due to ValueError")


@task
def failing_task_system_exit():
    raise SystemExit("This Task failed due to SystemExit")


@task
def failing_task_keyboard_interrupt():
    raise KeyboardInterrupt("This Task failed due to KeyboardInterrupt")


@task
def complex_exception():
    raise ValueError(ValueError("This task failed"))


@task
def complex_return_value():
    return lambda: True  # neither JSON nor anything else a store can hold


@task
def exit_task():
    exit(1)


@task
def cancelled_task():
    raise JobCancelled("This Task was cancelled")


@task(takes_context=True)
def get_task_id(context):
    return context.task_result.id


@task(takes_context=True)
def describe_context(context):
    """Return what the task saw of its context while it ran."""
    return {
        "is_task_context": isinstance(context, TaskContext),
        "attempt": context.attempt,
        "id": context.task_result.id,
        "status": str(context.task_result.status),
        "started": context.task_result.started_at is not None,
        "worker_ids": list(context.task_result.worker_ids),
    }


@task
def wait_for_gate(path):
    """Say it started (``path``.started), then block until the test creates ``path``."""
    open(f"{path}.started", "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.01)
    return "through the gate"
