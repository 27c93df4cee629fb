"""backroom's benchmark against its peers: one table, the figures as JSON and a chart per figure.

    python bench/run.py [--quick] [--systems a,b] [--runs N] [--json PATH]

Each system is measured in a session of its own (bench/session.py) with
scratch state of its own; each figure is the median of the runs, for the
worker configuration that did best (bench/best.py). The charts (SVG) go to a
directory beside the JSON, named after it. See docs/performance.md for what
each figure means.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from best import Measurements, best_figures
from chart import write_charts
from measure import median
from reference import postgres_insert_rate, redis_push_rate
from session import FULL, QUICK, REDIS_URL, Sizes
from systems import BACKROOM, SYSTEMS
from table import render

BENCH = Path(__file__).resolve().parent
PACKAGES = (
    "django-backroom", "Django", "django-tasks-db", "procrastinate", "celery", "kombu", "rq", "redis",
    "psycopg",
)  # fmt: skip
#: What a failed session measured.
NOTHING: Measurements = {"figures": {}, "drain": {}, "pickup": {}}


def run_session(name: str, sizes: Sizes) -> Measurements | None:
    """Measure one system in a fresh process; None when the session failed (its output is on stderr)."""
    with tempfile.TemporaryDirectory(prefix="backroom-bench-") as directory:
        out = Path(directory) / "figures.json"
        command = [sys.executable, str(BENCH / "session.py"), name, json.dumps(asdict(sizes)), str(out)]
        session = subprocess.Popen(command)
        try:
            returncode = session.wait()
        except KeyboardInterrupt:
            session.wait(timeout=60)  # Ctrl-C reached it too: let it stop its workers and remove its state
            raise
        if returncode != 0 or not out.exists():
            return None
        measurements: Measurements = json.loads(out.read_text())
        return measurements


def references(sizes: Sizes) -> dict[str, float | None]:
    """Measure each store's physical reference (bench/reference.py), in jobs/s."""
    count = sizes.enqueue * 5  # a few seconds at most: a steadier rate than the systems' enqueue count
    return {"postgres": postgres_insert_rate(count), "redis": redis_push_rate(REDIS_URL, count)}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "packages": versions}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes and 1 run: a smoke run (< 90 s).")
    parser.add_argument(
        "--systems", default=",".join(SYSTEMS), help=f"Comma-separated, of: {', '.join(SYSTEMS)}."
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="Runs per figure, the median shown (default 3; 1 quick)."
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="Where to write the JSON (default bench/results/)."
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.systems.split(",") if name.strip()]
    if unknown := [name for name in names if name not in SYSTEMS]:
        parser.error(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    runs = args.runs or (1 if args.quick else 3)
    if runs < 1:
        parser.error("--runs must be at least 1")
    sizes = QUICK if args.quick else FULL

    started = time.monotonic()
    per_run: dict[str, list[Measurements]] = {name: [] for name in names}
    reference_runs: list[dict[str, float | None]] = []
    failed: set[str] = set()
    for run in range(1, runs + 1):
        for name in names:
            print(f"run {run}/{runs}: {name} ...", end="", file=sys.stderr, flush=True)
            session_started = time.monotonic()
            measurements = run_session(name, sizes)
            print(f" {time.monotonic() - session_started:.0f} s", file=sys.stderr, flush=True)
            if measurements is None:
                failed.add(name)
                measurements = NOTHING
            per_run[name].append(measurements)
        reference_runs.append(references(sizes))
    medians = {
        name: best_figures(per_run[name], {w.label: w.concurrency for w in SYSTEMS[name].workers})
        for name in names
    }  # fmt: skip
    stores = {name: SYSTEMS[name].store for name in names}
    reference = {key: median([run[key] for run in reference_runs]) for key in reference_runs[0]}
    elapsed = time.monotonic() - started

    notes = sorted({SYSTEMS[name].note for name in names if SYSTEMS[name].note})
    notes += [f"FAILED: {name} (its error is above)" for name in sorted(failed)]
    kind = "--quick run (small sizes, 1 run)" if args.quick else f"median of {runs} runs"
    title = (
        f"backroom bench, {kind}: enqueue {sizes.enqueue} (enqueue_many {sizes.enqueue_many}), "
        f"drain {sizes.drain} jobs, "
        f"pickup {sizes.pickup} jobs, {sizes.requests} requests per view; {elapsed:.0f} s"
    )
    print(render(medians, BACKROOM, stores, reference, notes, title))

    path = (
        args.json
        or BENCH / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}{'-quick' if args.quick else ''}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "started": datetime.now(UTC).isoformat(), "quick": args.quick, "runs": runs, "sizes": asdict(sizes),
        "seconds": elapsed, "machine": machine(), "systems": medians, "per_run": per_run,
        "stores": stores, "reference": reference, "failed": sorted(failed),
    }, indent=2))  # fmt: skip
    charts = write_charts(medians, stores, reference, path.with_name(f"{path.stem}-charts"))
    print(f"\nJSON: {path}\ncharts: {charts[0].parent}/*.svg")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\ninterrupted: workers stopped, scratch state removed", file=sys.stderr)
        sys.exit(130)
