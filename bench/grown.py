"""backroom on a grown store: many finished jobs, and a backlog in another queue.

    python bench/grown.py [--stores sqlite,pg,maria,redis] [--finished 1000000] [--ready 100000] [--prune]

Each store is measured in a process of its own (Django is set up once per
process), on a scratch database as run.py's sessions use. A worker serving
only the "default" queue is measured on the empty store: enqueue, drain and
pickup, and the store reads behind the dashboard's overview and job list and
the admin's changelist. Then the store grows: ``--finished`` SUCCESSFUL jobs
and ``--ready`` READY jobs, all in the "reports" queue, which that worker does
not serve. The same figures are measured again; the table shows both and
their ratio (docs/performance.md has a run). With ``--prune`` the figures
are measured a third time while ``manage.py backroom prune`` deletes the
finished jobs (all of them: they finished an hour before), the workers'
first; the table adds that column, its ratio to the grown one, how long the
pruning took and whether it outlasted the workers' figures.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from measure import STORES, store_parser, store_sessions
from session import REDIS_URL, drain_rate, enqueue_rate, pickup_latencies
from systems import SYSTEMS, Scratch, System, Worker
from systems.base import PROJECT, manage

BACKLOG_QUEUE = "reports"
CHUNK = 10_000
ENQUEUE, DRAIN, PICKUP, READS = 500, 2_000, 100, 5
WORKER = Worker("", 4)
RECENT = timedelta(minutes=30)
PICKUP_WORKER = Worker("", 1)
#: Keep jobs that finished in the last 15 minutes: the backlog (an hour old) goes, the measurements' stay.
PRUNE = manage("backroom", "prune", "--successful-days", str(15 / 1440))


def served_queue_only(system: System) -> System:
    """The system, its worker serving "default" only and its counts and resets kept to that queue."""
    plain_command = system.worker_command

    def worker_command(worker: Worker) -> list[str]:
        return [*plain_command(worker), "--queue", "default"]

    def reset() -> None:
        if system.store == "redis":
            system.scratch.delete_redis_keys(f"{{{system.redis.keys.prefix}:default}}*")  # type: ignore[attr-defined]
        else:
            from backroom.models import Job

            Job.objects.filter(queue_name="default").delete()

    def count_finished() -> int:
        if system.store == "redis":
            return int(system.redis.client.zcard(system.redis.keys.of_queue("default", "successful")))  # type: ignore[attr-defined]
        from django.utils import timezone

        from backroom.models import Job, JobStatus

        # Recently finished, not "of the queue": counting a million finished rows every 20 ms would be the
        # bench's own load. The backlog finished an hour before the measurements.
        recent = timezone.now() - RECENT
        return Job.objects.filter(status=JobStatus.SUCCESSFUL, finished_at__gte=recent).count()

    system.worker_command = worker_command  # type: ignore[method-assign]
    system.reset = reset  # type: ignore[method-assign]
    system.count_finished = count_finished  # type: ignore[method-assign]
    return system


def grow(system: System, finished: int, ready: int) -> float:
    """Add ``finished`` SUCCESSFUL and then ``ready`` READY jobs to the backlog queue; seconds taken."""
    from benchsite import tasks

    import backroom

    started = time.perf_counter()
    backlog = tasks.noop.using(queue_name=BACKLOG_QUEUE)
    for count, finish in ((finished, True), (ready, False)):
        for done in range(0, count, CHUNK):
            backroom.enqueue_many(backlog, [((), {})] * min(CHUNK, count - done))
        if finish:
            _finish_backlog(system)
    _analyze(system.store)
    return time.perf_counter() - started


def _analyze(store: str) -> None:
    """Bring the planner's statistics up to date, as autovacuum (or a nightly ANALYZE) keeps a live table."""
    from django.db import connection

    statement = {"postgres": "VACUUM ANALYZE backroom_job", "mariadb": "ANALYZE TABLE backroom_job"}
    with connection.cursor() as cursor:
        cursor.execute(statement.get(store, "ANALYZE"))
        if cursor.description:  # MariaDB's ANALYZE TABLE answers with a report
            cursor.fetchall()


def _finish_backlog(system: System) -> None:
    """Mark every job of the backlog queue SUCCESSFUL, as if a worker had run it an hour ago."""
    from django.utils import timezone

    then = timezone.now() - timedelta(hours=1)
    if system.store != "redis":
        from backroom.models import Job, JobStatus

        Job.objects.filter(queue_name=BACKLOG_QUEUE).update(
            status=JobStatus.SUCCESSFUL, started_at=then, last_attempted_at=then, finished_at=then, attempts=1
        )
        return
    from backroom.brokers.redis.codec import micros

    redis = system.redis  # type: ignore[attr-defined]
    ready, done = redis.keys.ready(BACKLOG_QUEUE), redis.keys.of_queue(BACKLOG_QUEUE, "successful")
    at = micros(then)
    while members := redis.client.zrange(ready, 0, CHUNK - 1):
        with redis.client.pipeline(transaction=False) as pipe:
            for member in members:
                job_id = member.partition(":")[2]
                fields = {
                    "status": "SUCCESSFUL",
                    "started_at": at,
                    "last_attempted_at": at,
                    "finished_at": at,
                }
                pipe.hset(redis.keys.job(BACKLOG_QUEUE, job_id), mapping={**fields, "attempts": 1})
                pipe.zadd(done, {job_id: at})
            pipe.zrem(ready, *members)
            pipe.execute()


def read_times(store: str) -> dict[str, float]:
    """Median milliseconds of the store reads each page makes, over READS tries."""
    from django.utils import timezone

    from backroom.backends.stores import store_for
    from backroom.brokers.inspection import JobFilter
    from backroom.dashboard.overview import queue_charts
    from backroom.monitoring.health import take_snapshot

    found = store_for("default")
    inspector = found.inspector
    reads: dict[str, Callable[[], Any]] = {
        "overview: queue counts (ms)": lambda: take_snapshot(found, timezone.now()),
        "overview: failed tasks (ms)": lambda: inspector.failed_tasks(10),
        "overview: charts (ms)": lambda: queue_charts(inspector, timezone.now()),
        "job list reads (ms)": lambda: inspector.jobs(JobFilter(), offset=0, limit=50),
        "job list of a queue (ms)": lambda: inspector.jobs(
            JobFilter(queue_name=BACKLOG_QUEUE), offset=0, limit=50
        ),
    }
    if store != "redis":
        from backroom.models import Job

        # What the admin's changelist asks: the page, and the count its paginator shows.
        reads["admin changelist reads (ms)"] = lambda: (
            Job.objects.count(),
            list(Job.objects.order_by("-pk")[:100]),
        )
    times = {}
    for name, read in reads.items():
        samples = []
        for _ in range(READS):
            started = time.perf_counter()
            read()
            samples.append((time.perf_counter() - started) * 1000)
        times[name] = statistics.median(samples)
    return times


def worker_figures(system: System, logs: Path) -> dict[str, float]:
    """The drain and the pickup of a worker serving "default"."""
    found = {"drain, 4 threads (jobs/s)": drain_rate(system, WORKER, DRAIN, logs / "drain.log")}
    found.update(
        {
            f"pickup {k} (ms)": v
            for k, v in pickup_latencies(system, PICKUP_WORKER, PICKUP, logs / "pickup.log").items()
            if k in ("p50", "p95")
        }
    )
    return found


def store_figures(system: System) -> dict[str, float]:
    """The enqueue's rate and the reads' times."""
    found = {"enqueue one by one (jobs/s)": enqueue_rate(system, ENQUEUE)["enqueue_one"]}
    system.reset()
    found.update(read_times(system.store if system.store == "redis" else "sql"))
    return found


def figures(system: System, logs: Path) -> dict[str, float]:
    return {**worker_figures(system, logs), **store_figures(system)}


def figures_while_pruning(system: System, logs: Path) -> tuple[dict[str, float], float, bool]:
    """The figures measured while pruning, the seconds pruning took, and whether it outlasted the workers'."""
    started = time.perf_counter()
    with (logs / "prune.log").open("ab") as log:
        env = {**os.environ, **system.env()}
        pruning = subprocess.Popen(PRUNE, cwd=PROJECT, env=env, stdout=log, stderr=log)
    ended: list[float] = []

    def note_the_end() -> None:
        pruning.wait()
        ended.append(time.perf_counter())

    waiter = threading.Thread(target=note_the_end)
    waiter.start()
    try:
        found = worker_figures(system, logs)
        outlasted = not ended
        found.update(store_figures(system))
        waiter.join()
        if pruning.returncode != 0:
            raise RuntimeError(f"pruning failed: see {logs / 'prune.log'}")
    finally:
        if pruning.poll() is None:
            pruning.kill()
        waiter.join()
    return found, ended[0] - started, outlasted


def session(store: str, finished: int, ready: int, prune: bool, out: Path) -> None:
    name = STORES[store]
    with tempfile.TemporaryDirectory(prefix="backroom-grown-") as directory:
        logs = Path(directory)
        system = served_queue_only(
            SYSTEMS[name](Scratch(logs, f"backroom_grown_{os.getpid()}_{store}", REDIS_URL))
        )
        try:
            system.setup()
            empty = figures(system, logs)
            growing = grow(system, finished, ready)
            grown = figures(system, logs)
            result = {"store": store, "empty": empty, "grown": grown, "grow_seconds": growing}
            if prune:
                result["pruning"], result["prune_seconds"], result["prune_outlasted"] = figures_while_pruning(
                    system, logs
                )
        finally:
            if system.store == "redis":  # every queue's keys: reset() now keeps to "default"
                system.redis.delete_all_keys()  # type: ignore[attr-defined]
            system.teardown()
    out.write_text(json.dumps(result))


def render(results: list[dict[str, Any]], finished: int, ready: int) -> str:
    lines = [f"backroom on a grown store: {finished:,} finished and {ready:,} ready jobs in another queue"]
    for result in results:
        lines.append(f"\n{result['store']} (grown in {result['grow_seconds']:.0f} s)")
        pruning = result.get("pruning")
        header = f"{'':32}{'empty':>10}{'grown':>10}{'ratio':>8}"
        lines.append(header + (f"{'pruning':>10}{'/ grown':>8}" if pruning else ""))
        for name, before in result["empty"].items():
            after = result["grown"][name]
            line = f"{name:32}{before:>10,.1f}{after:>10,.1f}{after / before:>8.2f}"
            if pruning:
                line += f"{pruning[name]:>10,.1f}{pruning[name] / after:>8.2f}"
            lines.append(line)
        if pruning:
            outlasted = "after" if result["prune_outlasted"] else "BEFORE"
            lines.append(
                f"pruning took {result['prune_seconds']:.0f} s, ending {outlasted} the drain and pickup"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = store_parser(__doc__.splitlines()[0])
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--ready", type=int, default=100_000)
    parser.add_argument(
        "--prune", action="store_true", help="Measure a third time, while pruning deletes the finished jobs."
    )
    args = parser.parse_args(argv)
    if args.session:
        session(args.session, args.finished, args.ready, args.prune, args.out)
        return 0
    options = [
        "--finished",
        str(args.finished),
        "--ready",
        str(args.ready),
        *(["--prune"] if args.prune else []),
    ]
    results = list(store_sessions(__file__, args.stores.split(","), options).values())
    print(render(results, args.finished, args.ready))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
