"""The chaos run: jobs, worker processes, a driver that SIGKILLs them, and the figures.

Everything here goes through the task API, the store's broker and worker
processes, so the same run works for every store alias in TASKS.
"""

import random
import re
import signal
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from backroom.compat import task_backends
from backroom.exceptions import WorkerLost
from backroom.worker.runner import DEFAULT_PREFETCH
from tests.support import WorkerProcess, db_for, runs, wait_until

from .tasks import chaos_job

WORKER_ID = re.compile(r"worker starting id=(\S+)")
ENQUEUE_CHUNK = 50
WORKER_LOST = f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosFigures:
    store: str
    jobs: int
    workers: int
    concurrency: int
    prefetch: int
    kills: int
    taken_back: int  # jobs reaped from killed workers (attempts lost, not runs)
    taken_back_from_live_workers: int
    most_taken_back_in_one_kill: int
    # From a kill to the last of its started jobs taken back (WorkerLost written), the slowest kill.
    slowest_take_back_seconds: float
    repeats: int  # task bodies that ran more than once
    # Attempts charged beyond the runs recorded. Only jobs on a killed worker's threads can be (killed
    # between their first line and their first write): jobs it held ahead are never charged.
    charged_without_running: int
    repeats_without_take_back: int
    not_successful: int
    lost: int  # jobs whose task never ran
    enqueue_seconds: float
    duration_seconds: float

    @property
    def held(self) -> int:
        """The most claims a worker holds: its threads plus the jobs it claims ahead (--prefetch).

        Only those can run again after a kill: jobs running, and jobs finished
        whose outcomes wait for the next batched write (they count as held).
        """
        return self.concurrency + self.prefetch

    @property
    def repeat_bound(self) -> int:
        return self.kills * self.held

    def problems(self) -> list[str]:
        """What breaks backroom's promises in this run; empty when all held."""
        checks = [
            (self.not_successful == 0, f"{self.not_successful} jobs did not end SUCCESSFUL"),
            (self.lost == 0, f"{self.lost} jobs never ran"),
            (self.repeats <= self.repeat_bound, f"{self.repeats} repeats > bound {self.repeat_bound}"),
            (self.repeats_without_take_back == 0, f"{self.repeats_without_take_back} repeats not explained"),
            (self.taken_back_from_live_workers == 0, "jobs were reaped from live workers"),
            (
                self.charged_without_running <= self.kills * self.concurrency,
                f"{self.charged_without_running} attempts charged without a run, more than threads killed",
            ),
            (self.most_taken_back_in_one_kill <= self.held, "a kill took back more than it held"),
        ]
        return [message for ok, message in checks if not ok]

    def report(self) -> str:
        lines = [f"{name:>30}: {value}" for name, value in asdict(self).items()]
        lines.append(f"{'repeat_bound':>30}: {self.repeat_bound} (kills x (concurrency + prefetch))")
        lines.append(f"{'throughput':>30}: {self.jobs / self.duration_seconds:.0f} jobs/s")
        return "\n".join(lines)


class Workers:
    """Worker processes for one store, started and killed by the driver."""

    def __init__(
        self, store: str, concurrency: int, prefetch: int, log_dir: Path, extra: tuple[str, ...] = ()
    ) -> None:
        self.args = (
            "--backend",
            store,
            "--concurrency",
            str(concurrency),
            "--prefetch",
            str(prefetch),
            *extra,
        )
        self.log_dir = log_dir
        self.live: list[WorkerProcess] = []
        self.killed_ids: list[str] = []
        self.killed_at: dict[str, float] = {}  # worker id -> when it was killed (time.time())

    def start(self) -> WorkerProcess:
        process = WorkerProcess(*self.args, log_dir=self.log_dir)
        self.live.append(process)
        return process

    @staticmethod
    def worker_id(process: WorkerProcess) -> str | None:
        found = WORKER_ID.search(process.output())
        return found.group(1) if found else None

    def wait_started(self, timeout: float = 60) -> None:
        wait_until(lambda: all(self.worker_id(p) for p in self.live), timeout, what="workers to start")

    def kill_one(self, rng: random.Random, busy_pid: int | None = None) -> None:
        """SIGKILL a worker and start another in its place.

        The victim is the worker with pid ``busy_pid`` (the one that last started
        a job, so the kill lands mid-job) while it lives, else a random one.
        """
        busy = [process for process in self.live if process.pid == busy_pid]
        victim = busy[0] if busy else rng.choice(self.live)
        victim.send(signal.SIGKILL)
        victim.wait()
        self.live.remove(victim)
        self.killed_ids.append(self.worker_id(victim) or f"pid-{victim.pid}")
        self.killed_at[self.killed_ids[-1]] = time.time()
        self.start()

    def stop(self) -> None:
        for process in self.live:
            process.send(signal.SIGTERM)
        for process in self.live:
            process.wait(timeout=60)

    def kill_all(self) -> None:
        for process in self.live:
            process.kill()


def enqueue_chaos_jobs(store: str, first: int, count: int, max_ms: float) -> list[str]:
    task = chaos_job.using(backend=store)
    using = db_for(store)
    return [task.enqueue(f"chaos-{i}", using, max_ms).id for i in range(first, first + count)]


def finished_records(store: str, job_ids: list[str], timeout: float) -> list[Any]:
    """Wait until every job has finished; return their records."""
    broker = task_backends[store].store.broker
    records: dict[str, Any] = {}
    pending = list(job_ids)

    def all_finished() -> bool:
        nonlocal pending
        still = []
        for job_id in pending:
            record = broker.get(job_id)
            if record is not None and record.status in ("SUCCESSFUL", "FAILED", "CANCELLED"):
                records[job_id] = record
            else:
                still.append(job_id)
        pending = still
        return not pending

    try:
        wait_until(all_finished, timeout, interval=0.2, what=f"{len(job_ids)} jobs to finish")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {len(pending)} pending, {describe_pending(broker, pending)}") from None
    return [records[job_id] for job_id in job_ids]


def describe_pending(broker: Any, job_ids: list[str]) -> str:
    """What stuck jobs look like, counted by state, with a few in full: what a timed-out run must say."""
    found = [broker.get(job_id) for job_id in job_ids]
    states = Counter(
        "gone" if r is None else f"{r.status}, orphaned {r.orphaned}, worker {r.worker_id}" for r in found
    )
    examples = [
        f"{r.id} attempts={r.attempts} available_at={r.available_at:%H:%M:%S.%f} worker_ids={r.worker_ids}"
        for r in found[:3]
        if r is not None
    ]
    return f"by state {dict(states)}; for example {examples}"


def run_chaos(
    store: str,
    *,
    jobs: int,
    workers: int,
    concurrency: int,
    prefetch: int = DEFAULT_PREFETCH,
    kill_every: float,
    max_kills: int,
    max_ms: float,
    log_dir: Path,
    timeout: float = 600,
    seed: int | None = None,
    say: Callable[[str], None] = lambda message: None,
    outage: Callable[[], AbstractContextManager[object]] | None = None,
) -> ChaosFigures:
    """Run ``jobs`` jobs on ``workers`` processes, killing one every ``kill_every`` seconds.

    ``outage``: a service down (a RabbitMQ restart), entered once half the jobs are enqueued (or
    before the last kill); the driver enqueues a chunk and kills a worker while it lasts.
    """
    rng = random.Random(seed)
    pool = Workers(store, concurrency, prefetch, log_dir)
    try:
        for _ in range(workers):
            pool.start()
        pool.wait_started()
        say(f"{workers} workers started; enqueuing {jobs} jobs")
        started = time.monotonic()
        using = db_for(store)
        job_ids: list[str] = []
        enqueue_seconds = 0.0
        next_kill = started + kill_every
        # Enqueue in chunks between kills, so that kills keep their pace from the start.
        while len(pool.killed_ids) < max_kills:
            if outage is not None and (len(job_ids) >= jobs // 2 or len(pool.killed_ids) == max_kills - 1):
                with outage():
                    say(f"outage at {time.monotonic() - started:.1f}s")
                    chunk = min(ENQUEUE_CHUNK, jobs - len(job_ids))
                    job_ids += enqueue_chaos_jobs(store, len(job_ids), chunk, max_ms)
                    pool.kill_one(rng)
                say(f"outage over at {time.monotonic() - started:.1f}s")
                outage = None
            if len(job_ids) < jobs:
                job_ids += enqueue_chaos_jobs(
                    store, len(job_ids), min(ENQUEUE_CHUNK, jobs - len(job_ids)), max_ms
                )
                enqueue_seconds = time.monotonic() - started
            elif runs(using).values("label").distinct().count() >= jobs:
                break  # every task ran: kills now would only hit idle workers
            else:
                time.sleep(0.05)  # the driver's own pace, not a synchronisation
            if time.monotonic() >= next_kill:
                latest = runs(using).order_by("-id").values_list("pid", flat=True).first()
                pool.kill_one(rng, busy_pid=latest)
                say(f"kill {len(pool.killed_ids)} at {time.monotonic() - started:.1f}s")
                next_kill = max(next_kill + kill_every, time.monotonic() + kill_every / 2)
        if len(job_ids) < jobs:
            job_ids += enqueue_chaos_jobs(store, len(job_ids), jobs - len(job_ids), max_ms)
            enqueue_seconds = time.monotonic() - started
        records = finished_records(store, job_ids, timeout)
        duration = time.monotonic() - started
        pool.stop()
    finally:
        pool.kill_all()
    return _figures(store, records, pool, concurrency, prefetch, enqueue_seconds, duration, workers)


def _figures(
    store: str,
    records: list[Any],
    pool: Workers,
    concurrency: int,
    prefetch: int,
    enqueue_seconds: float,
    duration: float,
    workers: int,
) -> ChaosFigures:
    killed = set(pool.killed_ids)
    lost_errors = [
        (record.args[0], error)
        for record in records
        for error in record.errors
        if error.exception_class_path == WORKER_LOST
    ]
    lost_attempts = [(label, error.worker_id) for label, error in lost_errors]
    take_back_seconds = [
        error.at.timestamp() - pool.killed_at[error.worker_id]
        for _, error in lost_errors
        if error.at is not None and error.worker_id in pool.killed_at
    ]
    per_kill = Counter(owner for _, owner in lost_attempts)
    # Taken back: a started attempt ended by WorkerLost, or (held, its start not yet written) handed
    # back as orphaned, which can have run all the same.
    taken_back_labels = {label for label, _ in lost_attempts} | {r.args[0] for r in records if r.orphaned}
    run_counts = Counter(runs(db_for(store)).values_list("label", flat=True))
    labels = {record.args[0] for record in records}
    return ChaosFigures(
        store=store,
        jobs=len(records),
        workers=workers,
        concurrency=concurrency,
        prefetch=prefetch,
        kills=len(pool.killed_ids),
        taken_back=len(lost_attempts),
        taken_back_from_live_workers=sum(1 for _, owner in lost_attempts if owner not in killed),
        most_taken_back_in_one_kill=max(per_kill.values(), default=0),
        slowest_take_back_seconds=round(max(take_back_seconds, default=0.0), 2),
        repeats=sum(count - 1 for count in run_counts.values()),
        charged_without_running=sum(max(0, r.attempts - run_counts[r.args[0]]) for r in records),
        repeats_without_take_back=sum(
            1 for label, count in run_counts.items() if count > 1 and label not in taken_back_labels
        ),
        not_successful=sum(1 for record in records if record.status != "SUCCESSFUL"),
        lost=len(labels - set(run_counts)),
        enqueue_seconds=round(enqueue_seconds, 2),
        duration_seconds=round(duration, 2),
    )
