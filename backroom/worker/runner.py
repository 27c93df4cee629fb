"""The worker's main loop: hold ready jobs, hand them to threads, write starts and outcomes.

Only this loop's thread talks to the store on the worker's behalf (tasks'
own queries and progress reports use their threads' connections). One pass
of the loop, ``run_once``, does in order: take in what threads reported and
write it when a batch is due, enforce timeouts, heartbeat and take back lost
workers' jobs when due, tick the scheduler when due, hand back jobs held
ahead too long, and claim more jobs if there is room.

Round trips to the store, and the Python each job costs, bound a worker
running short jobs, so both ends are batched. The claim takes a few jobs more than the free threads
(``--prefetch``): they stay READY, uncharged, until a thread starts them.
Starts and outcomes are written together once a quarter of what the worker
may hold has finished, when the threads run out of work, or ``FLUSH_SECONDS``
after the first was reported, whichever comes first, and the claim that
fills the room they free goes with them (one transaction on a database). A
job held ahead that waits longer than ``PREFETCH_SECONDS`` for a thread is
handed back, so a better job enqueued later never waits behind it longer
than that.
"""

import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from secrets import token_hex

from django.utils import timezone

from ..brokers.contract import STALE_WORKER_RETENTION, ClaimRef, Transition, WorkerInfo
from ..exceptions import StoreError, StoreNotReady, StoreUnavailable
from ..jobs.records import JobRecord, JobStatus
from ..scheduler.runner import TICK_SECONDS, scheduler_for
from ..store import Store
from ..waiting import MigrateWait
from .context import CancelRequests
from .execution import Executor
from .journal import Confirmation, Journal
from .liveness import Liveness
from .memory import resident_bytes
from .pool import ThreadPool, runs_alone

logger = logging.getLogger(__name__)

#: Back-off after a failed pass (store down), doubled up to the maximum, with jitter.
ERROR_BACKOFF_SECONDS = (0.1, 5.0)
#: The most a reported start or outcome waits for others before it is written.
FLUSH_SECONDS = 0.005
#: A job held ahead of the threads is handed back once it waited this long: a better job enqueued
#: later waits behind jobs held ahead for about this long at most.
PREFETCH_SECONDS = 0.05
#: Default for --prefetch: the most jobs held beyond the free threads.
DEFAULT_PREFETCH = 128
#: How often a worker forgets workers silent for longer than STALE_WORKER_RETENTION.
FORGET_EVERY_SECONDS = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    queues: Sequence[str] = ()  # empty: every queue
    concurrency: int = 1
    burst: bool = False
    max_jobs: int | None = None
    poll_interval_seconds: float | None = None
    shutdown_grace_seconds: float | None = None
    scheduler: bool = True  # run the store's schedules (never in burst mode)
    max_memory_mb: int | None = None
    prefetch: int = DEFAULT_PREFETCH  # held beyond the threads; see _room


def make_worker_id() -> str:
    """Host, process and a random part: unique, and short enough for a database session's name."""
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{token_hex(3)}"


class Worker:
    """A worker process's loop: ``run()`` until stopped; ``run_once()`` for tests."""

    def __init__(
        self,
        store: Store,
        options: WorkerOptions,
        *,
        clock: Callable[[], datetime] = timezone.now,
        stop: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.broker = store.broker
        self.settings = store.settings
        self.options = options
        self.clock = clock
        self.stop = stop or threading.Event()
        self.abort = threading.Event()
        self.id = make_worker_id()
        info = WorkerInfo(
            id=self.id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            queues=list(options.queues),
            concurrency=options.concurrency,
            backend=store.alias,
            started_at=clock(),
        )
        self.liveness = Liveness(
            self.broker, info, self.settings.heartbeat_seconds, self.settings.lease_seconds
        )
        self.cancels = CancelRequests()
        self.executor = Executor(
            alias=store.alias, sender=store.sender, broker=self.broker, worker_id=self.id, clock=clock,
            cancels=self.cancels,
        )  # fmt: skip
        self.journal = Journal()
        self.pool = ThreadPool(
            options.concurrency, self.executor.execute, self.executor.timed_out, self.executor.crashed, self
        )
        self._wake = threading.Event()
        self._held: dict[str, ClaimRef] = {}  # every job this worker holds, started or not
        self._to_release: list[ClaimRef] = []  # taken from the threads, not yet handed back
        self._alone: str | None = None  # a job that runs alone: nothing else is held meanwhile
        self._flush_at: float | None = None  # when what threads reported must be written
        self._confirm = False  # a thread waits until its start is written
        self._may_have_work = True
        self._held_back = False  # the last claim left jobs that a limit held back
        self._ahead_allowed = True  # off after jobs held ahead waited too long, until a job finishes
        self._poll_interval = options.poll_interval_seconds or (
            self.settings.poll_interval_seconds or self.broker.default_poll_interval_seconds
        )
        self._next_poll = 0.0
        self._next_beat = 0.0
        self._next_forget = 0.0
        self._reap_after = 0.0  # monotonic time; later after a store outage
        self._back_from_outage = False
        self._measured_after_jobs = 0  # memory grows only as jobs run: measure after they finish
        self._stop_requested = False
        self._finished_jobs = 0
        self._listener: threading.Thread | None = None
        self._migrate_wait = MigrateWait(logger, "worker")
        self.scheduler = scheduler_for(store) if options.scheduler and not options.burst else None
        self._next_tick = 0.0

    @property
    def info(self) -> WorkerInfo:
        return self.liveness.info

    # Life cycle.

    def run(self) -> int:
        """Work until stopped (or drained, in burst mode); return the exit code."""
        logger.info(
            "worker starting id=%s backend=%s queues=%s concurrency=%d%s",
            self.id, self.store.alias, ",".join(self.options.queues) or "*",
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
                self._migrate_wait.found()
            except StoreError as exc:
                if isinstance(exc, StoreNotReady) and self.options.burst:
                    logger.error("%s", exc)  # nothing can be ready before migrate: a burst run ends here
                    return self._shutdown() or 1
                self._back_off(exc, backoff)
                backoff = min(backoff * 2, ERROR_BACKOFF_SECONDS[1])
                continue
            self._wait()
        return self._shutdown()

    def _back_off(self, exc: StoreError, backoff: float) -> None:
        """Wait out the delay, whatever finishes meanwhile: only a stop request cuts it short."""
        if isinstance(exc, StoreNotReady):
            delay = self._migrate_wait.missing(exc, time.monotonic())
        else:
            delay = backoff * random.uniform(0.5, 1.0)
            level = logging.WARNING if isinstance(exc, StoreUnavailable) else logging.ERROR
            logger.log(level, "store error, retrying in %.2fs: %s", delay, exc)
        self._back_from_outage = True
        self.broker.reset_connection()
        self.stop.wait(delay)

    def run_once(self) -> bool:
        """Do one pass of the loop; return False when the worker should stop."""
        self._settle(claim=True)
        if self.stop.is_set() or self.abort.is_set():
            return False
        now = self.clock()
        self._beat_if_due(now)
        if self.scheduler is not None and time.monotonic() >= self._next_tick:
            if self.scheduler.tick(now):
                self._may_have_work = True
            self._next_tick = time.monotonic() + TICK_SECONDS
        self._check_memory()
        self._release([])  # what a failed pass could not hand back
        self._hand_back_stale()
        if not self.stop.is_set():
            self._claim()
        if (
            self.options.burst
            and not self._held
            and not self._held_back
            and not self.journal.pending
            and not self.journal.waiting()
        ):
            return False  # drained: the claim just made found nothing ready, nor held any back
        if self.options.max_jobs is not None and self._finished_jobs >= self.options.max_jobs:
            logger.info("worker id=%s finished %d jobs; recycling", self.id, self._finished_jobs)
            self.stop.set()
        return True

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

    # What job threads report (PoolEvents).

    def started(self, job: JobRecord, *, confirm: bool) -> datetime | None:
        at = self.clock()
        expired = self.executor.expired(job, at)
        if expired is not None:  # decided here, at its start: a job held ahead may expire while it waits
            self.finished(expired)
            return None
        if not confirm:
            if self.journal.started(job, at) == 1:
                self._wake.set()  # the first report starts the flush timer
            return at
        confirmation = Confirmation(threading.Event())
        self._confirm = True
        self.journal.started(job, at, confirmation)
        self._wake.set()
        while not confirmation.done.wait(0.5):
            if self.abort.is_set():
                return None
        return at if confirmation.recorded else None

    def finished(self, outcome: Transition) -> None:
        waiting = self.journal.finished(outcome)
        if waiting == 1 or waiting >= self._batch_size() or not self.pool.has_waiting():
            self._wake.set()

    # One pass, step by step.

    def _batch_size(self) -> int:
        """Reports worth a write on their own: a start and an end for a quarter of what the worker may hold.

        Small enough that the next claim arrives while the threads still have
        jobs held ahead to run: the write and the claim overlap with them.
        """
        return max(1, (self.options.concurrency + self.options.prefetch) // 2)

    def _settle(self, *, claim: bool = False) -> None:
        """Enforce timeouts, and write what threads reported when a batch is due (``claim``: and claim)."""
        now = time.monotonic()
        self.pool.enforce_timeouts(now)
        if self._flush_at is None and self.journal.waiting():
            self._flush_at = now + FLUSH_SECONDS
        if self._flush_due(now):
            self.journal.take_in()
            self._write(claim=claim and not self.stop.is_set())

    def _flush_due(self, now: float) -> bool:
        return (
            self.stop.is_set()
            or self._confirm
            or (self._flush_at is not None and now >= self._flush_at)
            or self.journal.waiting() >= self._batch_size()
            or not self.pool.has_waiting()
        )

    def _write(self, *, claim: bool = False) -> None:
        """Write what threads reported; with ``claim``, claim the room it frees in the same call.

        A draining worker writes a batch and claims the next one each time:
        together they are one transaction (one commit) on a database.
        """
        self._confirm = False
        if not self.journal.pending:
            self._flush_at = None
            return
        transitions = list(self.journal.pending.values())
        leaving = sum(1 for t in transitions if t.status != JobStatus.RUNNING and t.job_id in self._held)
        room = self._room(leaving) if claim else 0
        claimed = None
        if room > 0 and self._claim_due():
            try:
                refused, claimed = self.broker.record_and_claim(self.id, transitions, self._claim_of(room))
            finally:
                self._may_have_work = self._may_have_work or claimed is None  # no claim ran: try again
        else:
            refused = self.broker.record(self.id, transitions)
        for t in transitions:
            if t.job_id in refused:
                self._held.pop(t.job_id, None)
                self.cancels.add(t.job_id)  # its thread may still run it: ask it to stop
                logger.warning("job id=%s was taken back from this worker (cancelled or reaped)", t.job_id)
            elif t.status == JobStatus.RUNNING:
                self._held[t.job_id] = replace(self._held[t.job_id], attempt=t.attempt, started=True)
            else:
                self._held.pop(t.job_id, None)
                self._finished_jobs += 1
                self._ahead_allowed = True
        self.journal.written(refused)
        self._flush_at = None
        if claimed is not None:  # after the bookkeeping above: a job retried at once may be claimed again
            self._took(claimed, room)

    def _room(self, leaving: int = 0) -> int:
        """How many more jobs this worker can hold now: its threads, plus jobs held ahead.

        Counted from the jobs held, not the threads busy: a job whose outcome
        is not yet written still counts, so a worker killed at any moment holds
        at most ``concurrency + prefetch`` jobs. ``leaving``: held jobs whose
        outcomes are being written, counted as gone.
        """
        if self._alone in self._held:  # however it left (finished, refused, handed back), it frees the worker
            return 0
        held = len(self._held) - len(self.pool.abandoned()) - leaving
        room = self.options.concurrency + self._ahead() - held
        if self.options.max_jobs is not None:
            room = min(room, self.options.max_jobs - self._finished_jobs - len(self._held))
        return room

    def _ahead(self) -> int:
        """How many jobs to hold beyond the threads: those they should start within PREFETCH_SECONDS."""
        seconds = self.pool.seconds_per_job
        if seconds is None or not self.options.prefetch or not self._ahead_allowed:
            return 0
        expected = int(self.options.concurrency * PREFETCH_SECONDS / max(seconds, 1e-6))
        return min(self.options.prefetch, expected)

    def _claim(self) -> None:
        room = self._room()
        if room <= 0 or not self._claim_due():
            return
        self._took(self._claim_of(room)(), room)

    def _claim_of(self, room: int) -> Callable[[], list[JobRecord]]:
        """The broker's claim of ``room`` jobs for this worker, to call; it reads the time when called."""

        def claim() -> list[JobRecord]:
            now = self.clock()
            return self.broker.claim(self.id, self.options.queues, room, now, self.liveness.lease_end(now))

        return claim

    def _claim_due(self) -> bool:
        """Whether a claim may find work; if so, the wake-up that said so is used up.

        Cleared before the claim, not after: a wake-up that arrives while the
        claim runs may be for a job the claim did not see, and must not be
        lost. And the claim reads the time after: a job whose wake-up was
        just cleared is due by then.
        """
        if time.monotonic() >= self._next_poll or (self.options.burst and not self._held):
            self._may_have_work = True
            self._next_poll = time.monotonic() + self._poll_interval
        due = self._may_have_work
        self._may_have_work = False
        return due

    def _took(self, jobs: list[JobRecord], room: int) -> None:
        """Hold what a claim of ``room`` jobs returned and queue it for the threads."""
        if len(jobs) == room:
            self._may_have_work = True
        held_back = self.broker.held_back_seconds()
        self._held_back = held_back is not None
        if held_back is not None:  # a limit held jobs back: claim again when it may allow them
            self._next_poll = min(self._next_poll, time.monotonic() + held_back)
        for job in jobs:
            self._held[job.id] = ClaimRef(job_id=job.id, attempt=job.next_attempt, queue_name=job.queue_name)
        suspects = [job for job in jobs if runs_alone(job)]
        if suspects:
            jobs = self._go_alone(suspects[0], jobs)
        self.pool.submit(jobs, time.monotonic())

    def _go_alone(self, suspect: JobRecord, claimed: list[JobRecord]) -> list[JobRecord]:
        """Keep only ``suspect``, which runs alone: hand back everything else not started."""
        others = [job for job in claimed if job.id != suspect.id] + self.pool.take_waiting()
        self._release([self._held[job.id] for job in others])
        self._alone = suspect.id
        logger.info(
            "job id=%s task=%s runs alone: a worker died holding it before", suspect.id, suspect.task_path
        )
        return [suspect]

    def _hand_back_stale(self) -> None:
        """Once a job held ahead waited for a thread longer than PREFETCH_SECONDS, hand back every one."""
        # A job that runs alone waits for the others to finish: that wait is its due, not staleness.
        stale = self.pool.take_waiting(stale_before=time.monotonic() - PREFETCH_SECONDS, keep=self._alone)
        if stale:
            self._release([self._held[job.id] for job in stale])
            self._ahead_allowed = False
            self._may_have_work = True  # the threads will want the best job when they free up

    def _release(self, claims: list[ClaimRef]) -> None:
        """Hand jobs back; if the store cannot take them now, they are handed back on the next pass."""
        self._to_release += claims
        if self._to_release:
            self.broker.release(self.id, self._to_release)
            for claim in self._to_release:
                self._held.pop(claim.job_id, None)
            self._to_release = []

    def _beat_if_due(self, now: datetime) -> None:
        mono = time.monotonic()
        if mono < self._next_beat:
            return
        abandoned = len(self.pool.abandoned())
        self.liveness.beat(now, abandoned, list(self._held.values()))
        if self._back_from_outage:
            # Every lease ran out while nobody could write: give live workers a lease's
            # time to heartbeat again before taking their jobs for lost.
            self._back_from_outage = False
            self._reap_after = mono + self.settings.lease_seconds
        if mono >= self._reap_after:
            if any(r.status == JobStatus.READY for r in self.liveness.reap(now)):
                self._may_have_work = True
            if mono >= self._next_forget:
                self.liveness.forget_stale(now, STALE_WORKER_RETENTION)
                self._next_forget = mono + FORGET_EVERY_SECONDS
        if abandoned and abandoned >= self.options.concurrency and not self.stop.is_set():
            logger.error(
                "worker id=%s has %d threads stuck in tasks past their timeout; recycling", self.id, abandoned
            )
            self.stop.set()
        self._next_beat = mono + self.settings.heartbeat_seconds

    def _wait(self) -> None:
        if self._may_have_work and self._room() > 0:
            return
        now = time.monotonic()
        wake_at = min(self._next_beat, self.pool.next_deadline() or self._next_beat)
        if self._flush_at is not None:
            wake_at = min(wake_at, self._flush_at)
        if self.pool.has_waiting():
            wake_at = min(wake_at, now + PREFETCH_SECONDS)
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
            except StoreError as exc:
                logger.debug("listener lost its connection, reconnecting: %s", exc)
                self.broker.reset_connection()
                self.stop.wait(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, ERROR_BACKOFF_SECONDS[1])

    def _notified(self, queue_name: str) -> None:
        if not self.options.queues or queue_name in self.options.queues:
            self._may_have_work = True
            self._wake.set()

    # Stopping.

    def _shutdown(self) -> int:
        """Hand back unstarted jobs, let running ones finish within the grace period."""
        grace = self.options.shutdown_grace_seconds
        if grace is None:
            grace = self.settings.shutdown_grace_seconds
        deadline = time.monotonic() + grace
        try:
            self._release([self._held[job.id] for job in self.pool.take_waiting()])
            while self._running_held() and not self.abort.is_set() and time.monotonic() < deadline:
                self._settle()
                # Keep heartbeating while jobs drain, or other workers would take them back.
                self._beat_if_due(self.clock())
                self._wake.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                self._wake.clear()
            self._settle()
            self._end_abandoned()
            unfinished = self._running_held()
            if unfinished:
                logger.warning("handing back %d unfinished jobs", len(unfinished))
            self._release(unfinished)
            self.broker.unregister(self.id)
        except StoreError as exc:
            # Stopped while waiting for migrate, it holds nothing and has no row to remove.
            if self._held or not isinstance(exc, StoreNotReady):
                logger.error("could not hand back jobs on shutdown (they return after the lease): %s", exc)
                return 1
        finally:
            self.pool.stop()
            self.broker.reset_connection()  # this thread's: nothing else would close it
        logger.info("worker stopped id=%s jobs=%d", self.id, self._finished_jobs)
        return 1 if self.abort.is_set() else 0

    def _running_held(self) -> list[ClaimRef]:
        abandoned = {job.id for job, _ in self.pool.abandoned()}
        return [claim for job_id, claim in self._held.items() if job_id not in abandoned]

    def _end_abandoned(self) -> None:
        """Record the timeout of jobs whose threads are stuck: they end with this process.

        Their next attempt may start a second after this write, when this
        process, and the stuck thread with it, is gone.
        """
        outcomes = []
        for job, started_at in self.pool.abandoned():
            claim = self._held.get(job.id)
            if claim is None:
                continue
            outcome = self.executor.timed_out(job, started_at or self.clock())
            if outcome.status == JobStatus.READY:
                earliest = self.clock() + timedelta(seconds=1)
                outcome = replace(outcome, available_at=max(outcome.available_at or earliest, earliest))
            outcomes.append(replace(outcome, attempt=claim.attempt, started_at=None))
        if outcomes:
            self.broker.record(self.id, outcomes)
            for outcome in outcomes:
                self._held.pop(outcome.job_id, None)


def install_signal_handlers(worker: Worker) -> None:
    """SIGTERM/SIGINT: the first stops gracefully, the second at once. Handlers only set events."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.request_stop())
