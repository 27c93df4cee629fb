"""Tasks the tests enqueue. Each records what it did in the Run table when asked."""

import asyncio
import os
import time

from backroom.compat import task

from .support import runs


def _record(label: str, using: str) -> None:
    runs(using).create(label=label, pid=os.getpid())


@task
def add(a, b):
    return a + b


@task
def noop():
    return None


@task(queue_name="emails")
def in_emails_queue(label, using="default"):
    _record(label, using)


@task
def record(label, using="default"):
    """Record one run of ``label``; the count of runs shows duplicates."""
    _record(label, using)
    return label


@task
async def async_add(a, b):
    await asyncio.sleep(0.01)
    return a + b


@task
def fail_times(label, failures, using="default"):
    """Fail the first ``failures`` attempts, then succeed."""
    _record(label, using)
    count = runs(using).filter(label=label).count()
    if count <= failures:
        raise ConnectionError(f"attempt {count} of {label} failed")
    return count


@task
def always_fail(message):
    raise ValueError(message)


@task
def sleep_then_record(seconds, label, using="default"):
    time.sleep(seconds)
    _record(label, using)
    return label


@task
def busy_loop(seconds):
    """Spin in Python code (interruptible by a timeout) for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@task
async def async_sleep(seconds):
    await asyncio.sleep(seconds)


@task(takes_context=True)
def with_context(context, steps):
    for step in range(1, steps + 1):
        context.set_progress(step, steps, f"step {step}")
    return {"attempt": context.attempt, "job_id": context.job_id}


@task
def wait_for_file(path, label, using="default"):
    """Block until ``path`` exists (the test creates it), then record a run."""
    _record(f"{label}:started", using)
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.02)
    _record(label, using)


@task
def returns_set():
    return {1, 2}


def not_a_task():
    return "plain function"
