"""Run one held job and say how it ended. Nothing here writes to the store.

The outcome is a ``Transition``: SUCCESSFUL, FAILED, CANCELLED, or READY
when the retry policy gives the job another attempt. Django's signals are
sent here, with the TaskResult as the store will show it once the worker
records the outcome.
"""

import asyncio
import logging
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from inspect import iscoroutinefunction
from typing import Any

from django.db import close_old_connections

from ..brokers.contract import Broker, ClaimRef, Transition
from ..compat import InvalidTask, Task, task_finished, task_started
from ..exceptions import CorruptJob, JobCancelled, JobExpired, JobTimeout, UnknownTask
from ..jobs.json import dumps, loads, storable_text
from ..jobs.records import ErrorRecord, JobRecord, JobStatus, error_path
from ..jobs.results import task_result
from ..retry import Retry, RetryPolicy
from ..signals import task_retrying
from ..task import task_for
from .context import CancelRequests, JobContext

logger = logging.getLogger(__name__)
# An outcome's status -> how the log line names it, and at which level.
_LOG_AS = {
    JobStatus.SUCCESSFUL: ("successful", logging.INFO),
    JobStatus.READY: ("retrying", logging.WARNING),
    JobStatus.FAILED: ("failed", logging.ERROR),
    JobStatus.CANCELLED: ("cancelled", logging.WARNING),
}


def error_record(
    exc: BaseException, attempt: int, worker_id: str, at: datetime, started_at: datetime | None
) -> ErrorRecord:
    """Describe a failed attempt as kept in the job's ``errors`` list."""
    return ErrorRecord(
        exception_class_path=error_path(type(exc)),
        traceback=storable_text("".join(traceback.format_exception(exc))),
        attempt=attempt,
        worker_id=worker_id,
        started_at=started_at,
        at=at,
    )


class EventLoopThread:
    """One asyncio loop in a daemon thread, shared by every ``async def`` task."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the loop and wait for its result in the calling thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._started()).result()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="backroom-asyncio", daemon=True).start()
            return self._loop


async def _with_timeout(coro: Coroutine[Any, Any, Any], timeout_seconds: float | None) -> Any:
    if timeout_seconds is None:
        return await coro
    deadline = asyncio.timeout(timeout_seconds)
    try:
        async with deadline:
            return await coro
    except TimeoutError:
        if deadline.expired():
            raise JobTimeout(f"Task ran past its timeout of {timeout_seconds:g}s.") from None
        raise


class Executor:
    """Turns a held job into an outcome: import, signal, call, decide on retry."""

    def __init__(
        self,
        *,
        alias: str,
        sender: type,
        broker: Broker,
        worker_id: str,
        clock: Callable[[], datetime],
        cancels: CancelRequests,
    ) -> None:
        self.alias = alias
        self.sender = sender
        self.broker = broker
        self.worker_id = worker_id
        self.clock = clock
        self.cancels = cancels
        self.event_loop = EventLoopThread()

    def running(self, job: JobRecord, started_at: datetime) -> JobRecord:
        """The job as the store shows it once its start is recorded."""
        return job.evolve(
            status=JobStatus.RUNNING,
            attempts=job.next_attempt,
            started_at=job.started_at or started_at,
            last_attempted_at=started_at,
            worker_ids=[*job.worker_ids, self.worker_id],
        )

    def execute(
        self, held: JobRecord, started_at: datetime, on_async: Callable[[], None] = lambda: None
    ) -> Transition:
        """Run the job's task; ``on_async`` is called when it is handed to the event loop."""
        clock_start = time.monotonic()
        job = self.running(held, started_at)
        if job.defect is not None:
            damaged = CorruptJob(f"The stored job cannot be run: {job.defect}.")
            return self._finish(job, None, clock_start, error=damaged, retry=False)
        try:
            task = task_for(job, self.alias)
        except (UnknownTask, InvalidTask) as exc:
            return self._finish(job, None, clock_start, error=exc, retry=False)
        claim = ClaimRef(job_id=job.id, attempt=job.attempts, queue_name=job.queue_name, started=True)
        context = None
        try:
            started_result = task_result(job, task, self.alias)
            task_started.send(self.sender, task_result=started_result)
            args: list[Any] = list(job.args)
            if task.takes_context:
                context = JobContext(
                    task_result=started_result, claim=claim, broker=self.broker, cancels=self.cancels
                )
                args.insert(0, context)
            if iscoroutinefunction(task.func):
                on_async()
                value = self.event_loop.run(
                    _with_timeout(task.func(*args, **job.kwargs), job.timeout_seconds)
                )
            else:
                value = task.func(*args, **job.kwargs)
            encoded = dumps(value)
        except BaseException as exc:  # noqa: BLE001 - any failure of the task is its outcome
            # KeyboardInterrupt too: tasks run on job threads, which signals never reach, so a task raised it.
            if isinstance(exc, JobTimeout) and not exc.args:  # raised into the thread by the pool
                exc.args = (f"Task ran past its timeout of {job.timeout_seconds:g}s.",)
            return self._finish(job, task, clock_start, error=exc, retry=not isinstance(exc, JobCancelled))
        finally:
            close_old_connections()
            self.cancels.forget(job.id)
        if context is not None and context.stopped_on_request:
            stop = JobCancelled("The task returned after it was asked to stop.")
            return self._finish(job, task, clock_start, error=stop, retry=False)
        return self._finish(job, task, clock_start, value=encoded)

    def expired(self, held: JobRecord, now: datetime) -> Transition | None:
        """The outcome of a held job past its ``expires_at`` (CANCELLED, never run, uncharged), else None."""
        if held.expires_at is None or held.expires_at > now:
            return None
        logger.warning(
            "job id=%s task=%s outcome=expired expires_at=%s", held.id, held.task_path, held.expires_at
        )
        path = error_path(JobExpired)
        error = ErrorRecord(
            exception_class_path=path,
            traceback=f"{path}: not started by {held.expires_at.isoformat()}\n",
            at=now,
        )
        return Transition(
            job_id=held.id, queue_name=held.queue_name, attempt=held.attempts, status=JobStatus.CANCELLED,
            finished_at=now, error=error, links=held.links,
        )  # fmt: skip

    def crashed(self, held: JobRecord, started_at: datetime, exc: BaseException) -> Transition:
        """The outcome of a job whose execution failed inside backroom itself."""
        logger.exception("job id=%s task=%s crashed the executor", held.id, held.task_path)
        job = self.running(held, started_at)
        now = self.clock()
        error = error_record(exc, job.attempts, self.worker_id, now, started_at)
        return Transition(
            job_id=job.id, queue_name=job.queue_name, attempt=job.attempts, status=JobStatus.FAILED,
            finished_at=now, error=error, links=job.links,
        )  # fmt: skip

    def timed_out(self, held: JobRecord, started_at: datetime) -> Transition:
        """The outcome of a job whose thread came out of its task only after being abandoned."""
        exc = JobTimeout(
            f"Task ran past its timeout of {held.timeout_seconds:g}s and did not stop; "
            "its thread was abandoned until it came out."
        )
        return self._finish(self.running(held, started_at), None, None, error=exc, retry=True)

    def _finish(
        self,
        job: JobRecord,
        task: Task | None,
        clock_start: float | None,
        *,
        value: str | None = None,
        error: BaseException | None = None,
        retry: bool = False,
    ) -> Transition:
        now = self.clock()
        if error is None:
            outcome = Transition(
                job_id=job.id, queue_name=job.queue_name, attempt=job.attempts, status=JobStatus.SUCCESSFUL,
                finished_at=now,
                return_value=value, links=job.links,
            )  # fmt: skip
        else:
            record = error_record(error, job.attempts, self.worker_id, now, job.last_attempted_at)
            delay = self._retry_delay(job, error, now) if retry else None
            if isinstance(error, JobCancelled):
                status = JobStatus.CANCELLED
            else:
                status = JobStatus.FAILED if delay is None else JobStatus.READY
            outcome = Transition(
                job_id=job.id, queue_name=job.queue_name, attempt=job.attempts, status=status, error=record,
                finished_at=None if status == JobStatus.READY else now,
                available_at=None if delay is None else now + delay, links=job.links,
            )  # fmt: skip
        duration = "" if clock_start is None else f" duration={time.monotonic() - clock_start:.3f}s"
        label, level = _LOG_AS[outcome.status]
        logger.log(
            level,
            "job id=%s task=%s outcome=%s attempt=%d/%d%s%s",
            job.id, job.task_path, label, job.attempts, job.max_attempts, duration,
            "" if error is None else storable_text(f" error={type(error).__name__}: {error}"),
        )  # fmt: skip
        if task is not None:
            self._send_finished(job, task, outcome)
        return outcome

    def _retry_delay(self, job: JobRecord, error: BaseException, now: datetime) -> timedelta | None:
        if job.attempts >= job.max_attempts:
            return None
        if isinstance(error, Retry):
            return error.delay(now)
        try:
            policy = RetryPolicy.from_json(job.retry)
        except (KeyError, TypeError, ValueError, ImportError) as exc:
            logger.error("job id=%s has an unreadable retry policy, not retrying: %s", job.id, exc)
            return None
        return policy.delay_for(job.attempts, error)

    def _send_finished(self, job: JobRecord, task: Task, outcome: Transition) -> None:
        finished = job.evolve(
            status=outcome.status,
            finished_at=outcome.finished_at,
            errors=job.errors + ([outcome.error] if outcome.error else []),
            return_value=loads(outcome.return_value),
        )
        result = task_result(finished, task, self.alias)
        if outcome.status == JobStatus.READY:
            task_retrying.send(self.sender, task_result=result, retry_at=outcome.available_at)
        else:
            task_finished.send(self.sender, task_result=result)
