"""backroom's enqueue alone, against the store's physical reference, measured in the same run.

    python bench/enqueue.py [--stores sqlite,pg,maria,redis] [--rounds 5] [--one 2000]
                            [--many 10000,100000]

Each store is measured in a process of its own (Django is set up once per
process) on scratch state as run.py's sessions use. One by one, each
``task.enqueue()`` alternates with one reference write (bench/reference.py:
PostgreSQL's prepared single-row INSERT, in a scratch database of its own,
for the SQL stores; an LPUSH for Redis), each timed on its own: the disk's
flush rate, which swings with whatever else the machine does, is the same
for both, so their ratio holds. Then one ``enqueue_many`` call of each size.
The table shows the median of the rounds.
"""

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis
from measure import STORES, store_parser, store_sessions
from reference import INSERT_JOB, JOB_TABLE, job_row
from session import REDIS_URL
from systems import SYSTEMS, Scratch
from systems.base import PG_SERVER, create_database, drop_database


def rates(store: str, rounds: int, one: int, many: list[int]) -> dict[str, list[float]]:
    """Each figure's rate (jobs/s) in each round, for one store."""
    with (
        tempfile.TemporaryDirectory(prefix="backroom-enqueue-") as directory,
        reference_writer(store) as write,
    ):
        system = SYSTEMS[STORES[store]](
            Scratch(Path(directory), f"backroom_enqueue_{os.getpid()}", REDIS_URL)
        )
        system.setup()
        try:
            for _ in range(20):  # connect, prepare, warm the caches: outside the clock
                system.enqueue_noop()
                write()
            found: dict[str, list[float]] = {}
            for _ in range(rounds):
                system.reset()
                reference = enqueue = 0.0
                for _ in range(one):
                    started = time.perf_counter()
                    write()
                    between = time.perf_counter()
                    system.enqueue_noop()
                    reference += between - started
                    enqueue += time.perf_counter() - between
                found.setdefault("reference (jobs/s)", []).append(one / reference)
                found.setdefault("enqueue one by one (jobs/s)", []).append(one / enqueue)
                for count in many:
                    system.reset()
                    started = time.perf_counter()
                    system.enqueue_many(count)
                    rate = count / (time.perf_counter() - started)
                    found.setdefault(f"enqueue_many {count:,} (jobs/s)", []).append(rate)
            return found
        finally:
            system.teardown()


@contextmanager
def reference_writer(store: str) -> Iterator[Callable[[], object]]:
    """One reference write per call: an LPUSH for Redis, else a prepared INSERT in a scratch database."""
    if store == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        key = f"backroom_enqueue_{os.getpid()}_reference"
        try:
            yield lambda: client.lpush(key, json.dumps(job_row(), default=str))
        finally:
            client.delete(key)
        return
    name = f"backroom_enqueue_{os.getpid()}_reference"
    create_database("postgres", name)
    try:
        with psycopg.connect(f"{PG_SERVER} dbname={name}", autocommit=True) as db:
            db.execute(JOB_TABLE)
            yield lambda: db.execute(INSERT_JOB, job_row(), prepare=True)
    finally:
        drop_database("postgres", name)


def render(results: dict[str, dict[str, list[float]]]) -> str:
    lines = []
    for store, found in results.items():
        reference = statistics.median(found["reference (jobs/s)"])
        lines.append(f"\n{store}{'median':>36}{'min':>10}{'max':>10}{'/ ref':>8}")
        for name, values in found.items():
            middle = statistics.median(values)
            lines.append(
                f"{name:32}{middle:>10,.0f}{min(values):>10,.0f}{max(values):>10,.0f}"
                f"{middle / reference:>8.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = store_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--one", type=int, default=2000, help="Jobs enqueued one by one per round.")
    parser.add_argument("--many", default="10000,100000", help="Sizes of the enqueue_many calls.")
    args = parser.parse_args(argv)
    many = [int(size) for size in args.many.split(",") if size]
    if args.session:
        args.out.write_text(json.dumps(rates(args.session, args.rounds, args.one, many)))
        return 0
    options = ["--rounds", str(args.rounds), "--one", str(args.one), "--many", args.many]
    results = store_sessions(__file__, args.stores.split(","), options)
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
