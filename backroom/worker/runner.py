"""The worker's main loop: claim ready jobs, hand them to threads, persist outcomes.

Only this loop's thread talks to the store on the worker's behalf (tasks'
own queries and progress reports use their threads' connections). One pass
of the loop, ``run_once``, does in order: collect finished outcomes, enforce
timeouts, persist outcomes in one batch when one is due, claim more jobs if
there is room, heartbeat and reap when due, tick the scheduler when due.

Round trips to the store, not Python, bound a worker running short jobs, so
both ends are batched: the claim takes a few jobs more than the free threads
(``--prefetch``), and outcomes are written together once a quarter of what
the worker may hold has finished, when the threads run out of work, or
``FLUSH_SECONDS`` after the first one finished, whichever comes first. Job
threads wake the loop for those (and to start the timer), not for every job.
"""

import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from secrets import token_hex
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from ..brokers.base import ClaimRef, Outcome, WorkerInfo
from ..exceptions import StoreUnavailable
from ..scheduler.runner import TICK_SECONDS, scheduler_for
from .execution import Executor
from .memory import resident_bytes
from .pool import ThreadPool

logger = logging.getLogger(__name__)

#: Back-off after a failed pass (database down), doubled up to the maximum.
ERROR_BACKOFF_SECONDS = (0.1, 5.0)
#: Errors meaning the store cannot be reached for now: back off and try again.
STORE_UNAVAILABLE = (OperationalError, InterfaceError, StoreUnavailable)
#: Errors meaning the store refused a call (unreachable, or worse).
STORE_ERRORS = (DatabaseError, StoreUnavailable)
#: The most a finished outcome waits for others before it is written.
FLUSH_SECONDS = 0.005
#: Claim ahead only as many jobs as the threads are expected to start within this time, so a
#: higher-priority job enqueued later waits behind prefetched ones for about this long at most.
PREFETCH_SECONDS = 0.05
#: Default for --prefetch: the most jobs claimed beyond the free threads.
DEFAULT_PREFETCH = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    queues: Sequence[str] = ()  # empty: every queue
    concurrency: int = 1
    burst: bool = False
    max_jobs: int | None = None
    poll_interval_seconds: float | None = None
    shutdown_grace_seconds: float | None = None
    scheduler: bool = True  # run the backend's schedules (never in burst mode)
    max_memory_mb: int | None = None
    prefetch: int = DEFAULT_PREFETCH  # claimed beyond the threads; see _room


def make_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{token_hex(3)}"


class Worker:
    """A worker process's loop: ``run()`` until stopped; ``run_once()`` for tests."""

    def __init__(
        self,
        backend: Any,
        options: WorkerOptions,
        *,
        clock: Callable[[], datetime] = timezone.now,
        stop: threading.Event | None = None,
    ) -> None:
        self.backend = backend
        self.broker = backend.broker
        self.settings = backend.settings
        self.options = options
        self.clock = clock
        self.stop = stop or threading.Event()
        self.abort = threading.Event()
        self.id = make_worker_id()
        self.info = WorkerInfo(
            id=self.id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            queues=list(options.queues),
            concurrency=options.concurrency,
            backend=backend.alias,
            started_at=clock(),
        )
        self.executor = Executor(backend=backend, broker=self.broker, worker_id=self.id, clock=clock)
        self._outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.pool = ThreadPool(
            options.concurrency,
            self.executor.execute,
            self.executor.timed_out,
            self.executor.crashed,
            self._report,
        )
        self._wake = threading.Event()
        self._claims: dict[str, int] = {}  # job id -> attempt, for every job this worker holds
        self._pending: list[Outcome] = []  # finished, not yet persisted
        self._flush_at: float | None = None  # when the pending outcomes must be written
        self._may_have_work = True
        self._poll_interval = options.poll_interval_seconds or (
            self.settings.poll_interval_seconds or self.broker.default_poll_interval_seconds
        )
        self._next_poll = 0.0
        self._next_heartbeat = 0.0
        self._measured_after_jobs = 0  # memory grows only as jobs run: measure after they finish
        self._back_from_outage = False
        self._stop_requested = False
        self._reap_after = 0.0  # monotonic time; later after a store outage
        self._finished_jobs = 0
        self._listener: threading.Thread | None = None
        self.scheduler = scheduler_for(backend) if options.scheduler and not options.burst else None
        self._next_tick = 0.0

    # Life cycle.

    def run(self) -> int:
        """Work until stopped (or drained, in burst mode); return the exit code."""
        logger.info(
            "worker starting id=%s backend=%s queues=%s concurrency=%d%s",
            self.id, self.backend.alias, ",".join(self.options.queues) or "*",
            self.options.concurrency, " burst" if self.options.burst else "",
        )  # fmt: skip
        self.pool.start()
        self._start_listener()
        backoff = ERROR_BACKOFF_SECONDS[0]
        while not self.stop.is_set():
            try:
                if not self.run_once():
                    break
                backoff = ERROR_BACKOFF_SECONDS[0]
            except STORE_UNAVAILABLE as exc:
                logger.warning("store unavailable, retrying in %.1fs: %s", backoff, exc)
                self._back_from_outage = True
                self.broker.reset_connection()
                self._wake.wait(backoff)
                self._wake.clear()
                backoff = min(backoff * 2, ERROR_BACKOFF_SECONDS[1])
                continue
            self._wait()
        return self._shutdown()

    def run_once(self) -> bool:
        """Do one pass of the loop; return False when the worker should stop."""
        self._settle()
        if self.stop.is_set() or self.abort.is_set():
            return False
        now = self.clock()
        self._heartbeat_if_due(now)
        if self.scheduler is not None and time.monotonic() >= self._next_tick:
            if self.scheduler.tick(now):
                self._may_have_work = True
            self._next_tick = time.monotonic() + TICK_SECONDS
        self._check_memory()
        if not self.stop.is_set():
            self._claim(now)
        if self.options.burst and not self._claims and not self._pending:
            return False  # drained: the claim just made found nothing ready
        if self.options.max_jobs is not None and self._finished_jobs >= self.options.max_jobs:
            logger.info("worker id=%s finished %d jobs; recycling", self.id, self._finished_jobs)
            self.stop.set()
        return True

    def _check_memory(self) -> None:
        """Stop gracefully above --max-memory: running jobs finish, waiting ones are handed back."""
        limit = self.options.max_memory_mb
        if limit is None or self._finished_jobs == self._measured_after_jobs:
            return
        self._measured_after_jobs = self._finished_jobs
        used_mb = resident_bytes() / 2**20
        if used_mb > limit:
            logger.info(
                "worker id=%s uses %.0f MB, over --max-memory %d MB; recycling", self.id, used_mb, limit
            )
            self.stop.set()

    def request_stop(self) -> None:
        """First call: stop gracefully. Second call: stop at once.

        Counted apart from ``stop``, which the worker also sets itself when it
        recycles: a SIGTERM arriving then is a first request, not a second.
        """
        if self._stop_requested:
            self.abort.set()
        self._stop_requested = True
        self.stop.set()
        self._wake.set()

    # One pass, step by step.

    def _report(self, outcome: Outcome) -> None:
        """Called from job threads: queue the outcome; wake the loop when it starts a batch or fills one."""
        self._outcomes.put(outcome)
        finished = self._outcomes.qsize()
        if finished == 1 or finished >= self._batch_size() or not self.pool.has_waiting():
            self._wake.set()

    def _batch_size(self) -> int:
        """Outcomes worth a write on their own: a quarter of what the worker may hold.

        Small enough that the next claim arrives while the threads still have
        jobs claimed ahead to run: the write and the claim overlap with them.
        """
        return max(1, (self.options.concurrency + self.options.prefetch) // 4)

    def _settle(self) -> None:
        """Take in finished and timed-out jobs, and persist their outcomes when a batch is due."""
        now = time.monotonic()
        if self._flush_at is None and not self._outcomes.empty():
            self._flush_at = now + FLUSH_SECONDS
        if self._batch_due(now):
            self._collect_outcomes()
        for job in self.pool.enforce_timeouts(now):
            self._accept(self.executor.timed_out(job))
        if self._pending:
            self._persist()

    def _batch_due(self, now: float) -> bool:
        return (
            self.stop.is_set()
            or (self._flush_at is not None and now >= self._flush_at)
            or self._outcomes.qsize() >= self._batch_size()
            or not self.pool.has_waiting()
        )

    def _collect_outcomes(self) -> None:
        while True:
            try:
                outcome = self._outcomes.get_nowait()
            except queue.Empty:
                return
            self._accept(outcome)

    def _accept(self, outcome: Outcome) -> None:
        # An outcome for a claim already written off or released is dropped.
        if self._claims.get(outcome.job_id) == outcome.attempt:
            del self._claims[outcome.job_id]
            self._pending.append(outcome)
            self._finished_jobs += 1

    def _persist(self) -> None:
        self.broker.persist(self.id, self._pending)
        self._pending = []
        self._flush_at = None

    def _room(self) -> int:
        """How many more jobs this worker can take now: its threads, plus the jobs claimed ahead.

        Counted from the claims held, not the threads busy: a job whose outcome
        is not yet persisted still counts, so a worker killed at any moment holds
        at most ``concurrency + prefetch`` jobs that will run again (or, for
        those it had not started, be charged an attempt they did not use).
        """
        held = len(self._claims) + len(self._pending)
        room = self.options.concurrency + self._ahead() - held
        if self.options.max_jobs is not None:
            room = min(room, self.options.max_jobs - self._finished_jobs - len(self._claims))
        return room

    def _ahead(self) -> int:
        """How many jobs to claim beyond the threads: those they should start within PREFETCH_SECONDS."""
        seconds = self.pool.seconds_per_job
        if seconds is None or not self.options.prefetch:
            return 0  # nothing known yet about how long jobs take
        expected = int(self.options.concurrency * PREFETCH_SECONDS / max(seconds, 1e-6))
        return min(self.options.prefetch, expected)

    def _claim(self, now: datetime) -> None:
        if time.monotonic() >= self._next_poll or (self.options.burst and not self._claims):
            self._may_have_work = True
            self._next_poll = time.monotonic() + self._poll_interval
        room = self._room()
        if room <= 0 or not self._may_have_work:
            return
        # Cleared before the claim, not after: a wake-up that arrives while the claim
        # runs may be for a job the claim did not see, and must not be lost.
        self._may_have_work = False
        jobs = self.broker.claim(self.id, self.options.queues, room, now, self._lease_end(now))
        if len(jobs) == room:
            self._may_have_work = True
        for job in jobs:
            self._claims[job.id] = job.attempts
        self.pool.submit(jobs)

    def _heartbeat_if_due(self, now: datetime) -> None:
        if time.monotonic() < self._next_heartbeat:
            return
        self.broker.heartbeat(self.info, now, self._lease_end(now))
        if self._back_from_outage:
            # Every lease ran out while nobody could write: give live workers a lease's
            # time to heartbeat again before taking their jobs for lost.
            self._back_from_outage = False
            self._reap_after = time.monotonic() + self.settings.lease_seconds
        if time.monotonic() >= self._reap_after:
            self._reap(now)
        self._next_heartbeat = time.monotonic() + self.settings.heartbeat_seconds

    def _reap(self, now: datetime) -> None:
        for reaped in self.broker.reap(now):
            logger.warning(
                "job id=%s task=%s reaped from lost worker %s: now %s",
                reaped.job_id, reaped.task_path, reaped.worker_id, reaped.status.lower(),
            )  # fmt: skip
            if reaped.status == "READY":
                self._may_have_work = True

    def _lease_end(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.lease_seconds)

    def _wait(self) -> None:
        if self._may_have_work and self._room() > 0:
            return
        now = time.monotonic()
        wake_at = min(self._next_heartbeat, self.pool.next_deadline() or self._next_heartbeat)
        if self._flush_at is not None:
            wake_at = min(wake_at, self._flush_at)
        if self.scheduler is not None:
            wake_at = min(wake_at, self._next_tick)
        if self._room() > 0:
            wake_at = min(wake_at, self._next_poll)
        self._wake.wait(max(0.0, wake_at - now))
        self._wake.clear()

    # Waking on notifications.

    def _start_listener(self) -> None:
        if self.options.burst:
            return
        self._listener = threading.Thread(target=self._listen, name="backroom-listen", daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        backoff = ERROR_BACKOFF_SECONDS[0]
        while not self.stop.is_set():
            try:
                self.broker.listen(self._notified, self.stop)
                return  # the store cannot push, or we are stopping
            except STORE_ERRORS as exc:
                logger.debug("listener lost its connection, reconnecting: %s", exc)
                self.broker.reset_connection()
                self.stop.wait(backoff)
                backoff = min(backoff * 2, ERROR_BACKOFF_SECONDS[1])

    def _notified(self, queue_name: str) -> None:
        if not self.options.queues or queue_name in self.options.queues:
            self._may_have_work = True
            self._wake.set()

    # Stopping.

    def _shutdown(self) -> int:
        """Release unstarted jobs, let running ones finish within the grace period."""
        unstarted = self.pool.take_waiting()
        grace = self.options.shutdown_grace_seconds
        if grace is None:
            grace = self.settings.shutdown_grace_seconds
        deadline = time.monotonic() + grace
        try:
            self._release([ClaimRef(job_id=j.id, attempt=j.attempts) for j in unstarted])
            while self._claims and not self.abort.is_set() and time.monotonic() < deadline:
                self._settle()
                # Keep heartbeating while jobs drain, or other workers would reap them.
                self._heartbeat_if_due(self.clock())
                self._wake.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                self._wake.clear()
            self._settle()
            unfinished = [ClaimRef(job_id=j, attempt=a) for j, a in self._claims.items()]
            if unfinished:
                logger.warning("handing back %d unfinished jobs", len(unfinished))
            self._release(unfinished)
            self.broker.unregister(self.id)
        except STORE_ERRORS as exc:
            logger.error("could not hand back jobs on shutdown (they return after the lease): %s", exc)
            return 1
        logger.info("worker stopped id=%s jobs=%d", self.id, self._finished_jobs)
        return 1 if self.abort.is_set() else 0

    def _release(self, claims: list[ClaimRef]) -> None:
        if claims:
            self.broker.release(self.id, claims)
            for claim in claims:
                self._claims.pop(claim.job_id, None)


def install_signal_handlers(worker: Worker) -> None:
    """SIGTERM/SIGINT: the first stops gracefully, the second at once. Handlers only set events."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.request_stop())
