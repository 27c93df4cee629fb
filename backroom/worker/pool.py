"""A fixed number of daemon threads that run jobs, and the timeouts they are held to.

Python cannot kill a thread. A job past its timeout gets JobTimeout raised
inside its thread; that thread is then abandoned (it takes no further job)
and a fresh one takes its place, so a task stuck in C code costs a thread,
not a slot. Threads are daemons so an abandoned one never blocks exit.
"""

import collections
import ctypes
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..brokers.base import JobRecord, Outcome, claim_order
from ..exceptions import JobTimeout

logger = logging.getLogger(__name__)

#: How long a thread gets to stop after JobTimeout is raised in it before its job is written off.
STOP_GRACE_SECONDS = 1.0
#: Weight of the latest job in the running mean of job durations.
DURATION_WEIGHT = 0.2


@dataclass(slots=True)
class _Slot:
    thread: threading.Thread | None = None
    abandoned: bool = False


@dataclass(slots=True)
class _Running:
    job: JobRecord
    slot: _Slot
    started: float
    interruptible: bool = True
    interrupted_at: float | None = None
    deadline: float | None = None


class ThreadPool:
    """Runs jobs on ``size`` threads and reports each Outcome through ``report``."""

    def __init__(
        self,
        size: int,
        execute: Callable[[JobRecord, Callable[[], None]], Outcome],
        timed_out: Callable[[JobRecord], Outcome],
        crashed: Callable[[JobRecord, BaseException], Outcome],
        report: Callable[[Outcome], None],
    ) -> None:
        self.size = size
        self._execute = execute
        self._timed_out = timed_out
        self._crashed = crashed
        self._report = report
        self._waiting: collections.deque[JobRecord] = collections.deque()
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._slots: list[_Slot] = []
        #: Running mean of how long a job holds its thread, None before the first finishes.
        self.seconds_per_job: float | None = None

    def start(self) -> None:
        for _ in range(self.size):
            self._start_slot()

    def _start_slot(self) -> None:
        slot = _Slot()
        slot.thread = threading.Thread(target=self._work, args=(slot,), name="backroom-job", daemon=True)
        self._slots.append(slot)
        slot.thread.start()

    def submit(self, jobs: list[JobRecord]) -> None:
        """Queue claimed jobs; those claimed ahead earlier yield to better ones claimed now."""
        with self._has_work:
            if self._waiting and jobs and jobs[0].priority > self._waiting[-1].priority:
                self._waiting = collections.deque(sorted([*self._waiting, *jobs], key=claim_order))
            else:
                self._waiting.extend(jobs)
            self._has_work.notify(len(jobs))

    def has_waiting(self) -> bool:
        """Whether a job waits for a thread; read without the lock (a hint, called under it too)."""
        return bool(self._waiting)

    def take_waiting(self) -> list[JobRecord]:
        """Remove and return the jobs no thread has started."""
        with self._lock:
            waiting = list(self._waiting)
            self._waiting.clear()
        return waiting

    def next_deadline(self) -> float | None:
        with self._lock:
            deadlines = [
                (r.interrupted_at + STOP_GRACE_SECONDS) if r.interrupted_at else r.deadline
                for r in self._running.values()
            ]
        return min((d for d in deadlines if d is not None), default=None)

    def _work(self, slot: _Slot) -> None:
        try:
            while not slot.abandoned:
                with self._has_work:
                    while not self._waiting:
                        self._has_work.wait()
                    job = self._waiting.popleft()
                    running = _Running(job=job, slot=slot, started=time.monotonic())
                    if job.timeout_seconds is not None:
                        running.deadline = running.started + job.timeout_seconds
                    self._running[job.id] = running
                try:
                    outcome = self._execute(job, functools.partial(self._not_interruptible, running))
                except JobTimeout:
                    # Raised after the task returned, while its outcome was being built.
                    outcome = self._timed_out(job)
                except Exception as exc:  # noqa: BLE001 - a job must never be left without an outcome
                    outcome = self._crashed(job, exc)
                self._done(running, outcome)
        except JobTimeout:
            pass  # a timeout raised into this thread after it finished its job: it was abandoned

    def _done(self, running: _Running, outcome: Outcome) -> None:
        # Report before forgetting: if a late JobTimeout lands in between, the job
        # stays listed and is written off, and the worker ignores the second outcome.
        seconds = time.monotonic() - running.started
        with self._lock:
            mean = self.seconds_per_job
            self.seconds_per_job = seconds if mean is None else mean + DURATION_WEIGHT * (seconds - mean)
            if self._running.get(running.job.id) is running:
                self._report(outcome)
                del self._running[running.job.id]

    def _not_interruptible(self, running: _Running) -> None:
        """Async tasks time out on their event loop; their thread only waits."""
        with self._lock:
            running.interruptible = False

    def enforce_timeouts(self, now: float) -> list[JobRecord]:
        """Interrupt jobs past their deadline; return those that ignored it for too long."""
        written_off = []
        with self._lock:
            for running in list(self._running.values()):
                if running.deadline is None or now < running.deadline:
                    continue
                if running.interrupted_at is None:
                    running.interrupted_at = now
                    if running.interruptible:
                        self._interrupt(running)
                elif now >= running.interrupted_at + STOP_GRACE_SECONDS:
                    del self._running[running.job.id]
                    written_off.append(running.job)
                    logger.warning(
                        "job id=%s task=%s did not stop %.1fs after its timeout; thread abandoned",
                        running.job.id, running.job.task_path, STOP_GRACE_SECONDS,
                    )  # fmt: skip
        return written_off

    def _interrupt(self, running: _Running) -> None:
        """Raise JobTimeout in the job's thread, then give its slot to a new thread."""
        thread = running.slot.thread
        assert thread is not None and thread.ident is not None
        running.slot.abandoned = True
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(JobTimeout))
        self._slots.remove(running.slot)
        self._start_slot()
