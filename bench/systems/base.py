"""What every system adapter offers the bench, and the scratch state and processes they share.

A bench session measures one system in a process of its own (Django is set
up once per process), with scratch state of its own: a SQLite file in a
temporary directory, a PostgreSQL database ``backroom_bench_*`` and Redis
keys under a prefix, all removed at the end.
"""

import os
import signal
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import redis

BENCH = Path(__file__).resolve().parent.parent
PROJECT = BENCH / "project"
#: The PostgreSQL server (trust auth), as the bench project's settings read it; scratch
#: databases are created from its database "test".
PG_SERVER = " ".join(
    f"{key}={os.environ.get(f'BENCH_PG_{key.upper()}', default)}"
    for key, default in (("host", "127.0.0.1"), ("port", "5432"), ("user", "postgres"))
)
PG_ADMIN = f"{PG_SERVER} dbname=test"


@dataclass(frozen=True, slots=True)
class Worker:
    """One way to run a system's worker process: its kind (pool, worker class) and jobs at once."""

    kind: str  # "" where the system has one kind of worker
    concurrency: int

    @property
    def label(self) -> str:
        """Name it as the table and the JSON do: "prefork c=2", "c=4"."""
        return f"{self.kind} c={self.concurrency}".strip()


@dataclass(frozen=True, slots=True)
class Scratch:
    """Where one session keeps its state: a directory, a name for its database and Redis keys."""

    directory: Path
    name: str  # backroom_bench_<pid>_<system>: the PostgreSQL database and the Redis key prefix
    redis_url: str

    def redis(self) -> redis.Redis:
        # redis-py 8 times commands out after 5 s by default: longer than that, a BLPOP waits in vain.
        return redis.Redis.from_url(self.redis_url, decode_responses=True, socket_timeout=60)

    def delete_redis_keys(self, pattern: str) -> None:
        """Delete the keys matching ``pattern`` (never FLUSHDB: the server is shared)."""
        client = self.redis()
        batch = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(batch), 1000):
            client.delete(*batch[start : start + 1000])


class System(ABC):
    """One system under test: how to enqueue, run a worker and count what it finished."""

    name: ClassVar[str]
    #: Where it keeps its jobs, "sqlite", "postgres" or "redis": the physical reference it is set against.
    store: ClassVar[str]
    #: The worker configurations the drain tries; those at concurrency 1 are tried for the pickup too.
    workers: ClassVar[tuple[Worker, ...]] = (Worker("", 1),)
    #: How the bench project's /enqueue/ view enqueues for this system (see benchsite/views.py).
    view_enqueue: ClassVar[str] = "django"
    #: A footnote for the table, when something about this system needs saying.
    note: ClassVar[str] = ""

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch

    def env(self) -> dict[str, str]:
        """The environment of this system's processes: the session's own, its worker's and web server's."""
        return {
            "BENCH_REDIS_URL": self.scratch.redis_url,
            "BENCH_PREFIX": self.scratch.name,
            "BENCH_SQLITE_PATH": str(self.scratch.directory / "bench.sqlite3"),
            "BENCH_VIEW_ENQUEUE": self.view_enqueue,
            "DJANGO_SETTINGS_MODULE": "benchsite.settings",
            "PYTHONPATH": str(PROJECT),
            "PYTHONUNBUFFERED": "1",
        }

    def setup(self) -> None:
        """Create the store (database, tables) and import what enqueueing needs; subclasses extend it."""
        os.environ.update(self.env())  # this process enqueues with the settings its workers read
        sys.path.insert(0, str(PROJECT))

    @abstractmethod
    def teardown(self) -> None:
        """Remove every trace of the store."""

    @abstractmethod
    def reset(self) -> None:
        """Empty the store, so that each measurement starts afresh."""

    @abstractmethod
    def enqueue_noop(self) -> None:
        """Enqueue one no-op job, in its own transaction (or round trip)."""

    def enqueue_many(self, count: int) -> None:
        """Enqueue ``count`` no-op jobs at once; raise NotImplementedError where the system cannot."""
        raise NotImplementedError

    @abstractmethod
    def enqueue_stamp(self, key: str) -> None:
        """Enqueue the pickup task, which pushes the time it starts to the Redis list ``key``."""

    @abstractmethod
    def worker_command(self, worker: Worker) -> list[str]:
        """Return the command a user would run for one worker process configured as ``worker``."""

    @abstractmethod
    def count_finished(self) -> int:
        """How many jobs the store records as finished successfully."""


def manage(*args: str) -> list[str]:
    """A command of the bench project's manage.py."""
    return [sys.executable, str(PROJECT / "manage.py"), *args]


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (a worker, a web server) for the duration of the block; always stop it.

    It gets a session of its own, so that Ctrl-C reaches the bench, which then
    stops it (SIGTERM, then SIGKILL to the whole group after 10 s).
    """
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever it started (Celery's pool, RQ's work horse)
    except ProcessLookupError:
        pass
    process.wait()


def create_database(store: str, name: str) -> None:
    drop_database(store, name)
    if store == "postgres":
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    else:
        with _mariadb() as connection:
            connection.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")


def drop_database(store: str, name: str) -> None:
    if store == "postgres":
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        with _mariadb() as connection:
            connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


@contextmanager
def _mariadb() -> Iterator[Any]:
    import MySQLdb

    connection = MySQLdb.connect(
        host=os.environ.get("BENCH_MARIADB_HOST", "127.0.0.1"),
        port=int(os.environ.get("BENCH_MARIADB_PORT", "3306")),
        user=os.environ.get("BENCH_MARIADB_USER", "root"),
    )
    try:
        yield connection
    finally:
        connection.close()
