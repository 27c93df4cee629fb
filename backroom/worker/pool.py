"""A fixed number of daemon threads that run jobs, and the timeouts they are held to.

A thread tells the loop when a job's code starts (the job becomes RUNNING
then, not when it was claimed) and when it ends. A job whose worker once
died holding it runs alone: no other job runs beside it in this process,
and its start is recorded before its code runs.

Python cannot kill a thread. A job past its timeout gets JobTimeout raised
inside its thread; a thread that does not stop within ``STOP_GRACE_SECONDS``
is abandoned: a fresh thread takes its place, but its job stays held (and
RUNNING) until the thread comes out of whatever holds it, so the job's next
attempt never overlaps it. Threads are daemons so an abandoned one never
blocks exit.
"""

import collections
import ctypes
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db import connections

from ..brokers.contract import Transition
from ..exceptions import JobTimeout
from ..jobs.records import JobRecord, claim_order

logger = logging.getLogger(__name__)

#: How long a thread gets to stop after JobTimeout is raised in it before it is abandoned.
STOP_GRACE_SECONDS = 1.0
#: Weight of the latest job in the running mean of job durations.
DURATION_WEIGHT = 0.2


class PoolEvents(Protocol):
    """What the pool tells the worker's loop; called from job threads."""

    def started(self, job: JobRecord, *, confirm: bool) -> datetime | None:
        """A job's code is about to run: return its start time, or None to skip it.

        ``confirm``: return only once the store recorded the start (None if it refused).
        """

    def finished(self, outcome: Transition) -> None: ...


@dataclass(slots=True)
class _Waiting:
    job: JobRecord
    since: float  # monotonic: when the worker took it


@dataclass(slots=True)
class _Running:
    job: JobRecord
    thread: threading.Thread
    started: float
    deadline: float | None
    interruptible: bool = True
    interrupted_at: float | None = None
    abandoned: bool = False
    started_at: datetime | None = None  # the start reported to the store


def runs_alone(job: JobRecord) -> bool:
    """A worker died holding this job once: it may be what kills workers, so it runs alone."""
    return job.orphaned > 0


class ThreadPool:
    """Runs jobs on ``size`` threads; reports each start and Outcome through ``events``."""

    def __init__(
        self,
        size: int,
        execute: Callable[[JobRecord, datetime, Callable[[], None]], Transition],
        timed_out: Callable[[JobRecord, datetime], Transition],
        crashed: Callable[[JobRecord, datetime, BaseException], Transition],
        events: PoolEvents,
    ) -> None:
        self.size = size
        self._execute = execute
        self._timed_out = timed_out
        self._crashed = crashed
        self._events = events
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._running: dict[str, _Running] = {}
        self._idle = 0  # threads waiting for a job
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = False
        self._threads: set[threading.Thread] = set()
        #: Running mean of how long a job holds its thread, None before the first finishes.
        self.seconds_per_job: float | None = None

    def start(self) -> None:
        for _ in range(self.size):
            self._start_thread()

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name="backroom-job", daemon=True)
        self._threads.add(thread)
        thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """End the idle threads (the worker has stopped): a stopped worker leaves no thread waiting.

        Threads still inside a job (an abandoned one, say) end when it returns.
        """
        with self._changed:
            self._stopping = True
            busy = {r.thread for r in self._running.values()}
            idle = [thread for thread in self._threads if thread not in busy]
            self._changed.notify_all()
        deadline = time.monotonic() + timeout
        for thread in idle:
            thread.join(max(0.0, deadline - time.monotonic()))

    # What the loop does.

    def submit(self, jobs: list[JobRecord], now: float) -> None:
        """Queue held jobs; those taken ahead earlier yield to better ones taken now."""
        with self._changed:
            entries = [_Waiting(job, now) for job in jobs]
            if self._waiting and entries and claim_order(jobs[0]) < claim_order(self._waiting[-1].job):
                merged = sorted([*self._waiting, *entries], key=lambda w: claim_order(w.job))
                self._waiting = collections.deque(merged)
            else:
                self._waiting.extend(entries)
            self._changed.notify_all()

    def has_waiting(self) -> bool:
        """Whether a job waits for a thread; read without the lock (a hint)."""
        return bool(self._waiting)

    def busy(self) -> bool:
        """Whether every thread is running a job (or held back by one that runs alone)."""
        with self._lock:
            return self._idle == 0 or self._alone_running()

    def take_waiting(self, stale_before: float | None = None, keep: str | None = None) -> list[JobRecord]:
        """Remove and return the waiting jobs but job ``keep``; with ``stale_before``, only if one of
        them was taken before it, and then all: a later claim's jobs may rank below the stale ones, and
        kept, they would run before those came back."""
        with self._lock:
            taken = [w for w in self._waiting if w.job.id != keep]
            if stale_before is not None and not any(w.since < stale_before for w in taken):
                return []
            self._waiting = collections.deque(w for w in self._waiting if w.job.id == keep)
        return [w.job for w in taken]

    def running_count(self) -> int:
        with self._lock:
            return sum(1 for r in self._running.values() if not r.abandoned)

    def abandoned(self) -> list[tuple[JobRecord, datetime | None]]:
        """Jobs (and their starts) whose threads were abandoned past their timeout, still inside the task."""
        with self._lock:
            return [(r.job, r.started_at) for r in self._running.values() if r.abandoned]

    def next_deadline(self) -> float | None:
        with self._lock:
            deadlines = [
                (r.interrupted_at + STOP_GRACE_SECONDS) if r.interrupted_at else r.deadline
                for r in self._running.values()
                if not r.abandoned
            ]
        return min((d for d in deadlines if d is not None), default=None)

    def enforce_timeouts(self, now: float) -> None:
        """Interrupt jobs past their deadline; abandon the threads of those that ignore it too long."""
        with self._changed:
            for running in self._running.values():
                if running.abandoned or running.deadline is None or now < running.deadline:
                    continue
                if running.interrupted_at is None:
                    running.interrupted_at = now
                    if running.interruptible:
                        self._interrupt(running)
                elif now >= running.interrupted_at + STOP_GRACE_SECONDS:
                    running.abandoned = True
                    logger.warning(
                        "job id=%s task=%s did not stop %.1fs after its timeout; its thread is abandoned "
                        "and the job stays held until the thread comes out",
                        running.job.id, running.job.task_path, STOP_GRACE_SECONDS,
                    )  # fmt: skip
                    self._start_thread()
            self._changed.notify_all()

    def _interrupt(self, running: _Running) -> None:
        ident = running.thread.ident
        assert ident is not None
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(JobTimeout))

    # What each thread does.

    def _alone_running(self) -> bool:
        return any(runs_alone(r.job) for r in self._running.values() if not r.abandoned)

    def _next(self) -> _Running | None:
        """Wait for a job this thread may start now, and mark it running (called with the lock held).

        None once the pool is stopped and nothing waits.
        """
        while True:
            if self._stopping and not self._waiting:
                return None
            if self._waiting and not self._alone_running():
                first = self._waiting[0]
                others = sum(1 for r in self._running.values() if not r.abandoned)
                if not runs_alone(first.job) or others == 0:
                    job = self._waiting.popleft().job
                    started = time.monotonic()
                    deadline = None if job.timeout_seconds is None else started + job.timeout_seconds
                    running = _Running(job, threading.current_thread(), started, deadline)
                    self._running[job.id] = running
                    return running
            self._idle += 1
            self._changed.wait()
            self._idle -= 1

    def _work(self) -> None:
        while True:
            try:
                with self._changed:
                    running = self._next()
            except JobTimeout:
                continue  # a timeout meant for a job this thread already finished
            if running is None:
                connections.close_all()  # this thread's own, which nothing else would close
                with self._lock:
                    self._threads.discard(threading.current_thread())
                return
            started_at = self._events.started(running.job, confirm=runs_alone(running.job))
            if started_at is None:
                self._forget(running)  # taken back meanwhile, or expired: it must not run here
                continue
            running.started_at = started_at
            if self._done(running, self._run(running, started_at)):
                with self._lock:
                    self._threads.discard(threading.current_thread())
                return  # abandoned: a fresh thread already took this one's place

    def _run(self, running: _Running, started_at: datetime) -> Transition:
        """Run the job to its outcome; a timeout raised into the thread ends the attempt, never the thread."""
        job = running.job
        try:
            outcome = self._execute(job, started_at, functools.partial(self._not_interruptible, running))
        except JobTimeout:  # raised after the task returned, while its outcome was being built
            outcome = self._timed_out(job, started_at)
        except Exception as exc:  # noqa: BLE001 - a job must never be left without an outcome
            outcome = self._crashed(job, started_at, exc)
        while running.interrupted_at is not None:
            try:  # a timeout raised but not yet delivered must not land in the bookkeeping that follows
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(running.thread.ident or 0), None)
                break
            except JobTimeout:
                continue
        return outcome

    def _done(self, running: _Running, outcome: Transition) -> bool:
        """Report the outcome and forget the job; return whether this thread had been abandoned."""
        seconds = time.monotonic() - running.started
        with self._changed:
            mean = self.seconds_per_job
            self.seconds_per_job = seconds if mean is None else mean + DURATION_WEIGHT * (seconds - mean)
            self._events.finished(outcome)
            if self._running.get(running.job.id) is running:
                del self._running[running.job.id]
            self._changed.notify_all()
            return running.abandoned

    def _forget(self, running: _Running) -> None:
        with self._changed:
            self._running.pop(running.job.id, None)
            self._changed.notify_all()

    def _not_interruptible(self, running: _Running) -> None:
        """Async tasks time out on their event loop; their thread only waits."""
        with self._lock:
            running.interruptible = False
