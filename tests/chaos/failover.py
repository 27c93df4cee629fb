"""A Redis Cluster primary killed mid-run: ``python -m tests.chaos.failover --jobs 3000``.

Starts a cluster of its own (3 primaries, a replica each; tests/redis_cluster.py),
runs the jobs on worker processes, and once a third of them have run (or two
thirds are enqueued, if the workers lag behind), SIGKILLs
the primary that holds the queue's slot while enqueueing goes on. Redis
replication is asynchronous, so what that primary acknowledged and had not yet
passed on is gone: the run counts it, as docs/redis.md says it will, and
checks that everything else holds (every job still stored ends, none runs
without a reason, the workers live through the failover).
"""

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from tests.redis_cluster import Cluster, start_cluster

from .standalone import test_databases

SETTLE_SECONDS = 120


@dataclass(frozen=True, slots=True)
class FailoverFigures:
    jobs_acknowledged: int  # enqueue() returned an id
    enqueues_refused: int  # enqueue() raised StoreUnavailable during the failover (the caller knew)
    failover_seconds: float  # from the kill until every live node says the cluster is ok
    jobs_gone: int  # acknowledged, and not in the store after the failover
    jobs_finished: int
    jobs_stuck: int  # in the store, not finished SETTLE_SECONDS after the failover
    not_successful: int  # finished FAILED or CANCELLED
    never_ran: int  # finished SUCCESSFUL without a run recorded: impossible unless a write was lost
    repeats: int  # task bodies that ran more than once (outcomes lost with the primary)
    workers_alive: int
    workers: int
    duration_seconds: float

    def problems(self) -> list[str]:
        checks = [
            (self.jobs_stuck == 0, f"{self.jobs_stuck} stored jobs never finished"),
            (self.not_successful == 0, f"{self.not_successful} stored jobs did not end SUCCESSFUL"),
            (self.never_ran == 0, f"{self.never_ran} jobs ended SUCCESSFUL without running"),
            (self.workers_alive == self.workers, "a worker died in the failover"),
        ]
        return [message for ok, message in checks if not ok]

    def report(self) -> str:
        return "\n".join(f"{name:>20}: {value}" for name, value in asdict(self).items())


def primary_of(cluster: Cluster, slot: int) -> int | None:
    """The port of the primary serving ``slot`` as a live node sees it; None while none does."""
    for port, process in cluster.processes.items():
        if process.poll() is None:
            try:
                info = redis.Redis(port=port, decode_responses=True).cluster("info")
                if info.get("cluster_state") != "ok":
                    return None
                for start, end, primary, *_ in redis.Redis(port=port).execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        return int(primary[1])
            except redis.RedisError:
                continue
    return None


def run_failover(
    cluster: Cluster, *, jobs: int, workers: int, concurrency: int, max_ms: float, log_dir: Path
) -> FailoverFigures:
    from backroom.exceptions import StoreUnavailable
    from tests.support import runs, store_of, wait_until

    from .harness import ENQUEUE_CHUNK, Workers, enqueue_chaos_jobs

    broker = store_of("cluster").broker
    pool = Workers("cluster", concurrency, 32, log_dir)
    job_ids: list[str] = []
    refused = 0
    failover_seconds = 0.0
    started = time.monotonic()
    try:
        for _ in range(workers):
            pool.start()
        pool.wait_started()
        slot = broker.redis.keys.slot("default")
        victim = primary_of(cluster, slot)
        killed_at = 0.0

        def served_again() -> bool:
            return primary_of(cluster, slot) not in (None, victim)

        while len(job_ids) < jobs:
            # A third run, or (workers slower than the enqueuer) two thirds enqueued: either way the
            # kill lands mid-run with enqueueing still going on.
            if not killed_at and (runs("default").count() >= jobs // 3 or len(job_ids) >= 2 * jobs // 3):
                print(
                    f"killing the primary on port {victim} at {time.monotonic() - started:.1f}s", flush=True
                )
                cluster.kill(victim)
                killed_at = time.monotonic()
            try:
                count = min(ENQUEUE_CHUNK, jobs - len(job_ids))
                job_ids += enqueue_chaos_jobs("cluster", len(job_ids), count, max_ms)
            except StoreUnavailable:
                refused += 1
                time.sleep(0.1)  # the driver's pace while the cluster elects a new primary
            if killed_at and not failover_seconds and served_again():
                failover_seconds = round(time.monotonic() - killed_at, 2)
        if not failover_seconds:
            wait_until(served_again, 60, interval=0.05, what="a replica to serve the queue's slot")
            failover_seconds = round(time.monotonic() - killed_at, 2)
        records: dict[str, Any] = {}
        gone: set[str] = set()
        deadline = time.monotonic() + SETTLE_SECONDS
        pending = list(job_ids)
        while pending and time.monotonic() < deadline:
            still = []
            for job_id in pending:
                record = broker.get(job_id)
                if record is None:
                    gone.add(job_id)
                elif record.status in ("SUCCESSFUL", "FAILED", "CANCELLED"):
                    records[job_id] = record
                else:
                    still.append(job_id)
            pending = still
            if pending:
                time.sleep(0.2)
        duration = time.monotonic() - started
        alive = sum(1 for worker in pool.live if worker.process.poll() is None)
        pool.stop()
    finally:
        pool.kill_all()
    run_counts = Counter(runs("default").values_list("label", flat=True))
    return FailoverFigures(
        jobs_acknowledged=len(job_ids),
        enqueues_refused=refused,
        failover_seconds=failover_seconds,
        jobs_gone=len(gone),
        jobs_finished=len(records),
        jobs_stuck=len(pending),
        not_successful=sum(1 for record in records.values() if record.status != "SUCCESSFUL"),
        never_ran=sum(1 for r in records.values() if r.status == "SUCCESSFUL" and not run_counts[r.args[0]]),
        repeats=sum(count - 1 for count in run_counts.values()),
        workers_alive=alive,
        workers=workers,
        duration_seconds=round(duration, 2),
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.failover", description=__doc__)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker (default: 4)")
    parser.add_argument("--max-ms", type=float, default=20.0, help="longest job in ms (default: 20)")
    options = parser.parse_args()
    cluster = start_cluster(primaries=3, replicas=1)
    os.environ["BACKROOM_TEST_CLUSTER_URL"] = cluster.url  # tests/settings.py: the store's cluster
    try:
        with test_databases("cluster"):
            figures = run_failover(
                cluster,
                jobs=options.jobs,
                workers=options.workers,
                concurrency=options.concurrency,
                max_ms=options.max_ms,
                log_dir=Path(tempfile.mkdtemp(prefix="backroom-failover-")),
            )
    finally:
        cluster.stop()
    print(figures.report())
    for problem in figures.problems():
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if figures.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
