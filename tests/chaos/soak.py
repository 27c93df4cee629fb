"""The long run: many jobs through one worker, its memory sampled.

Alone: ``python -m tests.chaos.soak --jobs 200000`` (fresh test databases,
dropped afterwards); in pytest: tests/chaos/test_soak.py, marked slow.
"""

import argparse
import contextlib
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .standalone import common_arguments, test_databases

ENQUEUE_BATCH = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class SoakFigures:
    store: str
    jobs: int
    concurrency: int
    successful: int
    enqueue_seconds: float
    drain_seconds: float
    rss_start_mb: float  # the worker just started
    rss_warm_mb: float  # after the first tenth of the jobs
    rss_end_mb: float  # every job done
    rss_peak_mb: float
    samples: int

    def report(self) -> str:
        lines = [f"{name:>16}: {value}" for name, value in asdict(self).items()]
        lines.append(f"{'throughput':>16}: {self.jobs / self.drain_seconds:.0f} jobs/s")
        return "\n".join(lines)


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` (VmRSS in /proc/PID/status), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _enqueue(store: str, jobs: int) -> None:
    from django.db import transaction

    from backroom.backends import DatabaseBackend
    from backroom.compat import task_backends
    from tests.tasks import noop

    backend = task_backends[store]
    task = noop.using(backend=store)
    for first in range(0, jobs, ENQUEUE_BATCH):
        batch = (
            transaction.atomic(using=backend.settings.database)
            if isinstance(backend, DatabaseBackend)
            else contextlib.nullcontext()
        )
        with batch:
            for _ in range(min(ENQUEUE_BATCH, jobs - first)):
                task.enqueue()


def _successful(store: str) -> int:
    from backroom.compat import task_backends
    from backroom.models import Job

    return Job.objects.using(task_backends[store].settings.database).filter(status="SUCCESSFUL").count()


def run_soak(
    store: str,
    *,
    jobs: int,
    concurrency: int,
    log_dir: Path,
    sample_every: float = 1.0,
    timeout: float = 3600,
    say: Callable[[str], None] = lambda message: None,
) -> SoakFigures:
    """Enqueue ``jobs`` no-op jobs, drain them with one worker process, sample its RSS."""
    from tests.support import WorkerProcess, wait_until

    started = time.monotonic()
    _enqueue(store, jobs)
    enqueue_seconds = time.monotonic() - started
    say(f"enqueued {jobs} jobs in {enqueue_seconds:.1f}s")
    worker = WorkerProcess("--backend", store, "--concurrency", str(concurrency), log_dir=log_dir)
    try:
        wait_until(lambda: "worker starting" in worker.output(), 60, what="the worker to start")
        drain_started = time.monotonic()
        samples = [(0, rss_mb(worker.pid))]
        done = 0
        while done < jobs:
            if time.monotonic() - drain_started > timeout:
                raise AssertionError(f"only {done} of {jobs} jobs done after {timeout}s")
            time.sleep(sample_every)  # the sampling period, not a synchronisation
            done = _successful(store)
            samples.append((done, rss_mb(worker.pid)))
            if len(samples) % 30 == 0:
                say(f"{done} jobs done, worker RSS {samples[-1][1]:.1f} MB")
        drain_seconds = time.monotonic() - drain_started
        worker.send(signal.SIGTERM)
        worker.wait(60)
    finally:
        worker.kill()
    warm = next(rss for count, rss in samples if count >= jobs // 10)
    return SoakFigures(
        store=store,
        jobs=jobs,
        concurrency=concurrency,
        successful=done,
        enqueue_seconds=round(enqueue_seconds, 1),
        drain_seconds=round(drain_seconds, 1),
        rss_start_mb=round(samples[0][1], 1),
        rss_warm_mb=round(warm, 1),
        rss_end_mb=round(samples[-1][1], 1),
        rss_peak_mb=round(max(rss for _, rss in samples), 1),
        samples=len(samples),
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.soak", description=__doc__)
    common_arguments(parser)
    options = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="backroom-soak-"))
    with test_databases(options.store):
        figures = run_soak(
            options.store,
            jobs=options.jobs,
            concurrency=options.concurrency,
            log_dir=log_dir,
            say=lambda message: print(message, flush=True),
        )
    print(figures.report())
    print(f"{'worker log':>16}: {log_dir}")
    return 0 if figures.successful == figures.jobs else 1


if __name__ == "__main__":
    sys.exit(main())
