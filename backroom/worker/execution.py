"""Run one claimed job and say how it ended. Nothing here writes to the store."""

import asyncio
import logging
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from inspect import iscoroutinefunction
from typing import Any

from django.db import close_old_connections

from ..brokers.base import Broker, ClaimRef, JobRecord, Outcome
from ..compat import InvalidTask, Task, task_finished, task_started
from ..exceptions import CorruptJob, JobTimeout, UnknownTask
from ..results import task_result
from ..retry import RetryPolicy
from ..serialization import dumps, loads, storable_text
from ..signals import task_retrying
from .context import JobContext

logger = logging.getLogger(__name__)
# An outcome's status -> how the log line names it, and at which level.
_LOG_AS = {
    "SUCCESSFUL": ("successful", logging.INFO),
    "READY": ("retrying", logging.WARNING),
    "FAILED": ("failed", logging.ERROR),
}


def error_record(
    exc: BaseException, attempt: int, worker_id: str, at: datetime, started_at: datetime | None = None
) -> dict[str, Any]:
    """Describe a failed attempt as stored in the job's ``errors`` list, its start included."""
    exc_type = type(exc)
    return {
        "exception_class_path": f"{exc_type.__module__}.{exc_type.__qualname__}",
        "traceback": storable_text("".join(traceback.format_exception(exc))),
        "attempt": attempt,
        "worker_id": worker_id,
        "started_at": started_at.isoformat() if started_at else None,
        "at": at.isoformat(),
    }


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
    """Turns a claimed job into an Outcome: import, signal, call, decide on retry."""

    def __init__(
        self,
        *,
        backend: Any,
        broker: Broker,
        worker_id: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.backend = backend
        self.broker = broker
        self.worker_id = worker_id
        self.clock = clock
        self.event_loop = EventLoopThread()

    def execute(self, job: JobRecord, on_async: Callable[[], None] = lambda: None) -> Outcome:
        """Run the job's task; ``on_async`` is called when it is handed to the event loop."""
        started = time.monotonic()
        if job.defect is not None:
            damaged = CorruptJob(f"The stored job cannot be run: {job.defect}.")
            return self._finish(job, None, started, error=damaged, retry=False)
        try:
            task = self.backend.task_for(job)
        except (UnknownTask, InvalidTask) as exc:
            return self._finish(job, None, started, error=exc, retry=False)
        try:
            started_result = task_result(job, task, self.backend.alias)
            task_started.send(type(self.backend), task_result=started_result)
            args: list[Any] = list(job.args)
            if task.takes_context:
                claim = ClaimRef(job_id=job.id, attempt=job.attempts)
                args.insert(0, JobContext(task_result=started_result, claim=claim, broker=self.broker))
            if iscoroutinefunction(task.func):
                on_async()
                value = self.event_loop.run(
                    _with_timeout(task.func(*args, **job.kwargs), job.timeout_seconds)
                )
            else:
                value = task.func(*args, **job.kwargs)
            encoded = dumps(value)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - any failure of the task is its outcome
            if isinstance(exc, JobTimeout) and not exc.args:  # raised into the thread by the pool
                exc.args = (f"Task ran past its timeout of {job.timeout_seconds:g}s.",)
            return self._finish(job, task, started, error=exc, retry=True)
        finally:
            close_old_connections()
        return self._finish(job, task, started, value=encoded)

    def crashed(self, job: JobRecord, exc: BaseException) -> Outcome:
        """The outcome of a job whose execution failed inside backroom itself."""
        logger.exception("job id=%s task=%s crashed the executor", job.id, job.task_path)
        return Outcome(
            job_id=job.id, attempt=job.attempts, status="FAILED", finished_at=self.clock(),
            error=error_record(exc, job.attempts, self.worker_id, self.clock(), job.last_attempted_at),
        )  # fmt: skip

    def timed_out(self, job: JobRecord) -> Outcome:
        """The outcome of a job whose thread did not stop at its timeout."""
        exc = JobTimeout(
            f"Task ran past its timeout of {job.timeout_seconds:g}s and did not stop; "
            "its thread was abandoned."
        )
        return self._finish(job, None, None, error=exc, retry=True)

    def _finish(
        self,
        job: JobRecord,
        task: Task | None,
        started: float | None,
        *,
        value: str | None = None,
        error: BaseException | None = None,
        retry: bool = False,
    ) -> Outcome:
        now = self.clock()
        if error is None:
            outcome = Outcome(
                job_id=job.id, attempt=job.attempts, status="SUCCESSFUL", finished_at=now,
                return_value=value,
            )  # fmt: skip
        else:
            record = error_record(error, job.attempts, self.worker_id, now, job.last_attempted_at)
            delay = self._retry_delay(job, error) if retry else None
            outcome = Outcome(
                job_id=job.id, attempt=job.attempts, finished_at=now, error=record,
                status="FAILED" if delay is None else "READY",
                available_at=None if delay is None else now + delay,
            )  # fmt: skip
        duration = "" if started is None else f" duration={time.monotonic() - started:.3f}s"
        label, level = _LOG_AS[outcome.status]
        logger.log(
            level,
            "job id=%s task=%s outcome=%s attempt=%d/%d%s%s",
            job.id, job.task_path, label, job.attempts, job.max_attempts, duration,
            "" if error is None else f" error={type(error).__name__}: {error}",
        )  # fmt: skip
        if task is not None:
            self._send_finished(job, task, outcome)
        return outcome

    def _retry_delay(self, job: JobRecord, error: BaseException) -> timedelta | None:
        if job.attempts >= job.max_attempts:
            return None
        try:
            policy = RetryPolicy.from_json(job.retry)
        except (KeyError, TypeError, ValueError, ImportError) as exc:
            logger.error("job id=%s has an unreadable retry policy, not retrying: %s", job.id, exc)
            return None
        return policy.delay_for(job.attempts, error)

    def _send_finished(self, job: JobRecord, task: Task, outcome: Outcome) -> None:
        finished = replace(
            job,
            status=outcome.status,
            finished_at=None if outcome.status == "READY" else outcome.finished_at,
            errors=job.errors + ([outcome.error] if outcome.error else []),
            return_value=loads(outcome.return_value),
        )
        result = task_result(finished, task, self.backend.alias)
        if outcome.status == "READY":
            task_retrying.send(type(self.backend), task_result=result, retry_at=outcome.available_at)
        else:
            task_finished.send(type(self.backend), task_result=result)
