"""backroom's steady drain and start-up, from the store's own timestamps, start-up excluded.

    python bench/steady.py [--stores pg,redis] [--jobs 20000] [--concurrency 1] [--processes 1] [--runs 3]
                           [--worker-args "--prefetch 32"] [--code DIR] [--pickup N]

run.py's drain times a worker from its start to the last job counted, so a
fast worker's start-up is much of its figure. Here N no-op jobs wait before
a worker process (``manage.py backroom worker``) starts; once all have
finished, the store says when the first job started and when each finished:

- steady drain (jobs/s): jobs finished after the first one, divided by the
  time from the first job's finish to the last one's;
- start to first job (s): from spawning the worker to the first job's
  ``started_at``, Django's set-up and the first claim included.

With ``--pickup N`` it also splits the pickup (run.py's: one job at a time to
an idle worker at concurrency 1) into its steps, medians in ms, the worker
noting its steps through bench/traced_worker.py: the enqueue call; from its
return to the worker's wake-up (negative: the wake-up came before the
enqueue's reply did); from the wake-up to the claim; the claim; from the
claim to a thread reporting the start; from there to the task's first line.

Each store is measured in a process of its own, as run.py's sessions are.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from grown import STORES
from measure import wait_until
from session import REDIS_URL, alive, fill, pickups
from systems import SYSTEMS, Scratch, System, Worker, running
from systems.base import PROJECT


def stored_times(system: System) -> tuple[datetime, datetime, datetime]:
    """The first job's start, the first finish and the last finish, as the store recorded them."""
    if system.store == "redis":
        from backroom.brokers.redis.codec import from_micros

        redis = system.redis  # type: ignore[attr-defined]
        successful = redis.keys.of_queue("default", "successful")
        (first_id, first), (_, last) = (
            redis.client.zrange(successful, end, end, withscores=True)[0] for end in (0, -1)
        )
        job_key = redis.keys.job("default", first_id.decode() if isinstance(first_id, bytes) else first_id)
        started = from_micros(redis.client.hget(job_key, "started_at"))
        return started, from_micros(str(int(first))), from_micros(str(int(last)))  # type: ignore[return-value]
    from django.db.models import Max, Min

    from backroom.models import Job

    times = Job.objects.aggregate(Min("started_at"), Min("finished_at"), Max("finished_at"))
    return times["started_at__min"], times["finished_at__min"], times["finished_at__max"]


def steady_drain(
    system: System, jobs: int, concurrency: int, processes: int, extra: list[str], code: str, log: Path
) -> dict[str, float]:
    system.reset()
    fill(system, jobs)
    command = [*system.worker_command(Worker("", concurrency)), "--processes", str(processes), *extra]
    spawned = time.time()
    env = system.env()
    if code:  # the worker imports backroom from another checkout: a paired before/after
        env["PYTHONPATH"] = f"{code}{os.pathsep}{env['PYTHONPATH']}"
    cpu_before = _children_cpu()
    with running(command, env, log) as process:
        wait_until(
            lambda: alive(process) and system.count_finished() >= jobs, 60 + jobs / 200, f"{jobs} jobs", 0.05
        )
    started, first, last = stored_times(system)
    return {
        "steady_drain": (jobs - 1) / (last - first).total_seconds(),
        "start_to_first_job": started.timestamp() - spawned,
        "cpu_us_per_job": (_children_cpu() - cpu_before) / jobs * 1e6,
    }


def pickup_split(system: System, count: int, code: str, log: Path) -> dict[str, float]:
    """Median ms of each step of a pickup, from the bench's clock and the traced worker's notes."""
    notes_file = log.with_suffix(".json")
    command = [sys.executable, str(PROJECT.parent / "traced_worker.py"), str(notes_file), "--no-scheduler"]
    if code:
        command = ["env", f"PYTHONPATH={code}{os.pathsep}{system.env()['PYTHONPATH']}", *command]
    times = pickups(system, command, count, log)
    notes = json.loads(notes_file.read_text())

    def first(kind: str, after: float) -> list[float]:
        return next(note[1:] for note in notes if note[0] == kind and note[1] >= after)

    steps: dict[str, list[float]] = {}
    for enqueued, returned, first_line in times:
        woken = first("notified", enqueued)[0] if system.store in ("postgres", "redis") else returned
        claim_began, claim_returned = first("claim", enqueued)
        (started,) = first("started", enqueued)
        split = {
            "enqueue call": returned - enqueued,
            "return to wake-up": woken - returned,
            "wake-up to claim": claim_began - woken,
            "claim": claim_returned - claim_began,
            "claim to thread start": started - claim_returned,
            "thread start to first line": first_line - started,
            "total": first_line - enqueued,
        }
        for step, seconds in split.items():
            steps.setdefault(step, []).append(seconds * 1000)
    return {step: statistics.median(values) for step, values in steps.items()}


def _children_cpu() -> float:
    """CPU seconds of the worker processes that ended: less noisy than a rate on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def session(
    store: str,
    jobs: int,
    concurrency: int,
    processes: int,
    extra: list[str],
    code: str,
    runs: int,
    pickup: int = 0,
) -> list[dict[str, float]]:
    name = STORES[store]
    with tempfile.TemporaryDirectory(prefix="backroom-steady-") as directory:
        system = SYSTEMS[name](Scratch(Path(directory), f"backroom_steady_{os.getpid()}_{store}", REDIS_URL))
        try:
            system.setup()
            if pickup:
                return [
                    pickup_split(system, pickup, code, Path(directory) / "traced.log") for _ in range(runs)
                ]
            return [
                steady_drain(
                    system, jobs, concurrency, processes, extra, code, Path(directory) / "worker.log"
                )
                for _ in range(runs)
            ]
        except Exception:
            print((Path(directory) / "worker.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            system.teardown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="pg,redis")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker-args", default="", help="more options of the worker command, one string")
    parser.add_argument("--pickup", type=int, default=0, help="split N pickups into steps instead")
    parser.add_argument("--code", default="", help="a directory to import the worker's backroom from")
    parser.add_argument("--session", help=argparse.SUPPRESS)  # a store, measured in this process
    args = parser.parse_args()
    if args.session:
        results = session(
            args.session,
            args.jobs,
            args.concurrency,
            args.processes,
            args.worker_args.split(),
            args.code,
            args.runs,
            args.pickup,
        )
        print(json.dumps(results))
        return 0
    for store in args.stores.split(","):
        command = [sys.executable, __file__, "--session", store, *sys.argv[1:]]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results = json.loads(out.splitlines()[-1])
        if args.pickup:
            for step in results[0]:
                values = ", ".join(f"{r[step]:.2f}" for r in results)
                print(
                    f"{store}: pickup {step}: {statistics.median(r[step] for r in results):.2f} ms ({values})"
                )
            continue
        drains = [r["steady_drain"] for r in results]
        starts = [r["start_to_first_job"] for r in results]
        cpu = [r["cpu_us_per_job"] for r in results]
        print(
            f"{store}: steady drain {statistics.median(drains):,.0f} jobs/s "
            f"(runs: {', '.join(f'{d:,.0f}' for d in drains)}); start to first job "
            f"{statistics.median(starts):.3f} s (runs: {', '.join(f'{s:.3f}' for s in starts)}); "
            f"worker CPU {statistics.median(cpu):.0f} us/job (start-up included); "
            f"{args.jobs} jobs, c={args.concurrency}, processes={args.processes}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
