"""One system's measurements, in a process of its own: Django can be set up only once per process.

    python bench/session.py SYSTEM SIZES_JSON OUT_JSON

run.py starts one session per system and run. The session creates the
system's scratch state, measures, removes the state, and writes its figures
to OUT_JSON: null for a measurement the system has no operation for (n/a);
the drain and the pickup once per worker configuration (bench/best.py picks
the best of them).
"""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from best import PICKUP_PERCENTILES, SESSION_METRICS, Measurements
from measure import answers, free_port, percentile, timed_open, wait_until
from systems import SYSTEMS, Scratch, System, Worker, running
from systems.base import manage

#: What a system may lack (an operation such as enqueue_many that a peer has no form of).
UNSUPPORTED = (NotImplementedError, AttributeError)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
#: The longest pause before each pickup job, so that it lands at a random moment of an idle worker's cycle.
PICKUP_GAP_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many jobs (or requests) each measurement uses."""

    enqueue: int
    enqueue_many: int
    drain: int
    pickup: int
    requests: int
    #: Try only each worker kind's lowest and highest concurrency (a quick run), not each one.
    extreme_concurrencies: bool = False


QUICK = Sizes(enqueue=100, enqueue_many=200, drain=100, pickup=20, requests=20, extreme_concurrencies=True)
# Drains long enough that a fast system's worker start-up (about a second) is not most of the figure.
FULL = Sizes(enqueue=500, enqueue_many=10_000, drain=2_000, pickup=200, requests=100)


def enqueue_rate(system: System, count: int) -> dict[str, float]:
    system.reset()
    started = time.perf_counter()
    for _ in range(count):
        system.enqueue_noop()
    return {"enqueue_one": count / (time.perf_counter() - started)}


def enqueue_many_rate(system: System, count: int) -> dict[str, float]:
    system.reset()
    started = time.perf_counter()
    system.enqueue_many(count)
    return {"enqueue_many": count / (time.perf_counter() - started)}


def fill(system: System, count: int) -> None:
    """Enqueue ``count`` no-op jobs, at once where the system can."""
    try:
        system.enqueue_many(count)
    except UNSUPPORTED:
        for _ in range(count):
            system.enqueue_noop()


def drain_rate(system: System, worker: Worker, count: int, log: Path) -> float:
    """Measure jobs/s from starting one worker process configured as ``worker`` to all jobs finished."""
    system.reset()
    fill(system, count)
    started = time.perf_counter()
    with running(system.worker_command(worker), system.env(), log) as process:
        wait_until(
            lambda: alive(process) and system.count_finished() >= count,
            timeout=60 + count / 20,
            what=f"{count} jobs finished ({worker.label})",
            interval=0.02,
        )
        return count / (time.perf_counter() - started)


def pickup_latencies(system: System, worker: Worker, count: int, log: Path) -> dict[str, float]:
    """Milliseconds from the enqueue call to the task's first line, one job at a time, the worker idle."""
    command = system.worker_command(worker)
    latencies = [
        (first_line - enqueued) * 1000 for enqueued, _, first_line in pickups(system, command, count, log)
    ]
    return {f"p{pct}": percentile(latencies, pct) for pct in PICKUP_PERCENTILES}


def pickups(system: System, command: list[str], count: int, log: Path) -> list[tuple[float, float, float]]:
    """Enqueue ``count`` jobs one at a time to the idle worker ``command`` runs.

    Return, per job, when the enqueue call began and returned, and the task's first line (time.time()).
    """
    system.reset()
    key = f"{system.scratch.name}:pickup"
    client = system.scratch.redis()
    client.delete(key)
    times = []
    with running(command, system.env(), log) as process:
        system.enqueue_stamp(key)  # the first waits for the worker to start
        if not client.blpop([key], timeout=60):
            raise TimeoutError(f"the worker ran no job within 60 s (exit code {process.poll()})")
        for done in range(1, count + 1):
            wait_until(lambda: system.count_finished() >= done, 10, "the previous job recorded")  # noqa: B023
            time.sleep(random.uniform(0, PICKUP_GAP_SECONDS))  # not a wait for anything: a random phase
            enqueued = time.time()
            system.enqueue_stamp(key)
            returned = time.time()
            started = client.blpop([key], timeout=10)
            if not started:
                raise TimeoutError(f"job {done} did not start within 10 s (worker exit {process.poll()})")
            times.append((enqueued, returned, float(started[1])))
    client.delete(key)
    return times


def request_cost(system: System, count: int, log: Path) -> dict[str, float]:
    """Response times over HTTP of the view that enqueues one job and of the one that does nothing."""
    system.reset()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, never a proxy
    timings: dict[str, list[float]] = {"nothing": [], "enqueue": []}
    # One thread, as a sync WSGI worker serves: its database connection lives across requests.
    command = manage("runserver", "--noreload", "--nothreading", f"127.0.0.1:{port}")
    with running(command, system.env(), log) as server:
        wait_until(lambda: alive(server) and answers(opener, f"{base}/nothing/"), 30, "the web server")
        for view in timings:
            timed_open(opener, f"{base}/{view}/")  # warm-up: lazy imports, first connections
        for _ in range(count):
            for view, times in timings.items():  # alternately, so that both see the same noise
                elapsed_ms, body, _headers = timed_open(opener, f"{base}/{view}/")
                if body != b"ok":
                    raise RuntimeError(f"/{view}/ answered {body[:200]!r}")
                times.append(elapsed_ms)
    return {
        f"request_{view}_p{pct}_ms": percentile(times, pct)
        for view, times in timings.items()
        for pct in (50, 95)
    }


def alive(process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"{process.args!r} exited with code {process.returncode}: see its log")
    return True


def tried(workers: Sequence[Worker], quick: bool) -> list[Worker]:
    """Choose the configurations a drain tries: all, or each kind's lowest and highest concurrency."""
    if not quick:
        return list(workers)
    kinds = {worker.kind for worker in workers}
    ends = {
        (kind, key(w.concurrency for w in workers if w.kind == kind)) for kind in kinds for key in (min, max)
    }  # fmt: skip
    return [w for w in workers if (w.kind, w.concurrency) in ends]


def measure(system: System, sizes: Sizes, logs: Path) -> Measurements:
    """Measure every figure of ``system``, drain and pickup per worker configuration; None if unsupported."""
    figures: dict[str, float] = {}
    steps: list[Callable[[], dict[str, float]]] = [
        lambda: enqueue_rate(system, sizes.enqueue),
        lambda: enqueue_many_rate(system, sizes.enqueue_many),
        lambda: request_cost(system, sizes.requests, logs / "web.log"),
    ]
    for step in steps:
        try:
            figures.update(step())
        except UNSUPPORTED:
            continue
    workers = tried(system.workers, sizes.extreme_concurrencies)
    drain = {w.label: drain_rate(system, w, sizes.drain, logs / "drain.log") for w in workers}
    pickup = {
        w.label: pickup_latencies(system, w, sizes.pickup, logs / "pickup.log")
        for w in workers
        if w.concurrency == 1
    }  # fmt: skip
    return {
        "figures": {metric: figures.get(metric) for metric in SESSION_METRICS},
        "drain": drain,
        "pickup": pickup,
    }


def main(argv: list[str]) -> int:
    name, sizes_json, out = argv
    # Stopped by SIGTERM too, the session still runs its finally blocks: workers stopped, state removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sizes = Sizes(**json.loads(sizes_json))
    with tempfile.TemporaryDirectory(prefix="backroom-bench-") as directory:
        logs = Path(directory)
        system = SYSTEMS[name](
            Scratch(logs, f"backroom_bench_{os.getpid()}_{name.replace('-', '_')}", REDIS_URL)
        )
        try:
            system.setup()
            measurements = measure(system, sizes, logs)
        except Exception:
            for log in sorted(logs.glob("*.log")):
                print(
                    f"--- {log.name} (last lines)\n{''.join(log.read_text().splitlines(True)[-30:])}",
                    file=sys.stderr,
                )
            raise
        finally:
            system.teardown()
    Path(out).write_text(json.dumps({"system": name, "sizes": asdict(sizes), **measurements}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
