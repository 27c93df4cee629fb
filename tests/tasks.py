"""Tasks the tests enqueue. Each records what it did in the Run table when asked."""

import asyncio
import os
import threading
import time
from datetime import datetime

from backroom import Retry, RetryPolicy, task
from backroom.exceptions import JobCancelled

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
def retry_once(label, after=None, at=None, using="default"):
    """Ask for the next attempt ``after`` seconds (or ``at`` an ISO time) from now, once; then succeed."""
    _record(label, using)
    if runs(using).filter(label=label).count() == 1:
        raise Retry(after=after, at=None if at is None else datetime.fromisoformat(at))
    return label


class RateLimited(Exception):
    """An API's answer "too many requests, come back in ``retry_after`` seconds"."""

    def __init__(self, retry_after):
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


def backoff_from_error(attempt, exc):
    """A RetryPolicy backoff: the wait the error asks for; None (give up) when it asks for none."""
    return getattr(exc, "retry_after", None)


@task
def rate_limited(retry_after):
    raise RateLimited(retry_after) if retry_after is not None else ValueError("no retry-after")


@task
def always_fail(message):
    raise ValueError(message)


@task
def sleep_then_record(seconds, label, using="default"):
    time.sleep(seconds)
    _record(label, using)
    return label


#: Set to let ``block_in_c`` return: a test releases the thread it abandoned before the test ends.
STUCK_IN_C = threading.Event()


@task
def block_in_c(seconds):
    """Wait in C (a lock's acquire), where no timeout can interrupt it, until released or ``seconds`` pass."""
    STUCK_IN_C.wait(seconds)


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


@task(takes_context=True, max_attempts=3)
def stop_when_asked(context, label, using="default", raise_it=True):
    """Work in steps until asked to stop, then stop as the docs say: raise JobCancelled, or return."""
    _record(f"{label}:started", using)
    deadline = time.monotonic() + 60
    while not context.is_cancel_requested():
        if time.monotonic() > deadline:
            raise TimeoutError("never asked to stop")
        time.sleep(0.02)
    if raise_it:
        raise JobCancelled("asked to stop")
    return "stopped"


@task(timeout=0.3, max_attempts=2, retry=RetryPolicy(backoff_seconds=0, jitter=0))
def stuck_in_c(seconds, label, using="default"):
    """Block in C code (a sleep), which a timeout cannot interrupt: its thread is abandoned."""
    _record(f"{label}:started", using)
    time.sleep(seconds)
    _record(label, using)


@task(takes_context=True)
def bad_progress(context, value):
    """Report good progress, then try a value that is not a finite number; return what was said."""
    context.set_progress(1, 2, "before")
    number = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "true": True}.get(value, value)
    try:
        context.set_progress(number, 2, "after")
    except ValueError as exc:
        return str(exc)
    return "accepted"


@task(takes_context=True)
def leaky(context, email, token=None):
    """Show a secret in every place a job keeps data: progress, return value (and arguments)."""
    context.set_progress(1, 1, f"mailing {email}")
    return {"sent_to": email, "token": token}


@task
def step(previous, label, using="default"):
    """A workflow step: record a run of ``label``; return the labels so far, this one last."""
    _record(label, using)
    return [*previous, label]


@task
def gather(results, label, using="default"):
    """A group's callback: record one run of ``label``; return what it was given."""
    _record(label, using)
    return results


@task
def failed_step(failed_id, label, using="default"):
    """An on_failure call: record a run of ``label`` naming the failed job."""
    _record(f"{label}:{failed_id}", using)
    return failed_id


def _record_span(label: str, seconds: float, using: str) -> None:
    """Record the start and end of a run (wall-clock times the task itself took)."""
    started = time.time()
    time.sleep(seconds)
    runs(using).create(label=f"{label} {started:.6f} {time.time():.6f}", pid=os.getpid())


@task(concurrency_limit=2)
def two_at_a_time(label, seconds, using="default"):
    _record_span(label, seconds, using)


@task(concurrency_limit=1)
def one_per_key(label, seconds, using="default"):
    _record_span(label, seconds, using)


@task(rate_limit="2/s")
def two_per_second(label, using="default"):
    """Starts half a second apart: room for a slow store's claim between two of them."""
    _record_span(label, 0, using)


@task(rate_limit="20/s")
def twenty_per_second(label, using="default"):
    _record_span(label, 0, using)
