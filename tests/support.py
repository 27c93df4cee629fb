"""Helpers for tests: waiting on conditions with a deadline, and worker processes."""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def db_for(store: str) -> str:
    """The database where tasks run against ``store`` record their runs."""
    from django.conf import settings

    return store if store in settings.DATABASES else "default"


def runs(store: str) -> Any:
    """The Run rows written by tasks run against ``store``."""
    from .models import Run

    return Run.objects.using(db_for(store))


def store_of(alias: str) -> Any:
    """The backroom Store behind a TASKS alias."""
    from backroom.backends.stores import store_for

    return store_for(alias)


def stored_job(alias: str, job_id: str) -> Any:
    """The stored job, read through the store's broker (works for every store)."""
    record = store_of(alias).broker.get(job_id)
    assert record is not None, f"job {job_id} is not in store {alias}"
    return record


def job_record(**changes: Any) -> Any:
    """A JobRecord as a store reads one back (READY, enqueued 2026-01-01 on queue "q"), with ``changes``."""
    from datetime import UTC, datetime

    from backroom.jobs.records import JobRecord, JobStatus

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    fields: dict[str, Any] = dict(
        id="j", task_path="t", queue_name="q", priority=0, status=JobStatus.READY, args=[], kwargs={},
        run_after=None, available_at=t0, enqueued_at=t0, started_at=None, last_attempted_at=None,
        finished_at=None, attempts=0, max_attempts=3, timeout_seconds=None, retry={}, unique_key=None,
        worker_id=None, worker_ids=[], errors=[], return_value=None, progress=None,
    )  # fmt: skip
    fields.update(changes)
    return JobRecord(**fields)


def redis_of(alias: str = "redis") -> Any:
    """The RedisStore (client, keys, scripts) behind a Redis alias."""
    return store_of(alias).broker.redis


def delete_redis_keys(alias: str = "redis") -> None:
    """Delete this run's Redis keys (all under its own prefix): Redis is shared, never flushed."""
    redis_of(alias).delete_all_keys()


def delete_rabbitmq_queues(alias: str = "rabbitmq") -> None:
    """Delete the quorum queues this process declared (all under the run's own prefix)."""
    store_of(alias).broker.delete_queues()


def sweep_rabbitmq(alias: str = "rabbitmq") -> None:
    """Delete every queue under this run's prefix (worker subprocesses declare some too), and its exchange."""
    rabbitmq = store_of(alias).broker.rabbitmq
    listed = subprocess.run(
        [shutil.which("rabbitmqctl") or "rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    names = [name for name in listed.stdout.split() if name.startswith(f"{rabbitmq.prefix}.")]
    rabbitmq.reset()
    with rabbitmq.errors("delete this run's queues"):
        channel = rabbitmq.channel()
        for name in names:
            channel.queue_delete(name)
        channel.exchange_delete(rabbitmq.exchange)
    rabbitmq.reset()


#: Tests that use RabbitMQ hold it shared, a test that stops it holds it alone: pytest-xdist's other
#: process (and another run on this machine) never finds RabbitMQ stopped under a test that needs it.
RABBITMQ_LOCK = Path(tempfile.gettempdir()) / "backroom-test-rabbitmq.lock"


@contextmanager
def rabbitmq_in_use(*, alone: bool = False) -> Iterator[None]:
    """Hold RabbitMQ for a test: shared, or ``alone`` (to stop it) once no other test uses it."""
    with RABBITMQ_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def rabbitmq_stopped() -> Iterator[None]:
    """RabbitMQ's application stopped (its node stays up) for the block, started again whatever happens.

    Only inside ``rabbitmq_in_use(alone=True)``.
    """
    rabbitmqctl = shutil.which("rabbitmqctl") or "rabbitmqctl"
    subprocess.run([rabbitmqctl, "stop_app"], check=True, capture_output=True, timeout=120)
    try:
        yield
    finally:
        subprocess.run([rabbitmqctl, "start_app"], check=True, capture_output=True, timeout=120)
        subprocess.run([rabbitmqctl, "await_startup"], check=True, capture_output=True, timeout=120)


def _is_redis(alias: str) -> bool:
    from backroom.brokers.redis import RedisBroker

    return isinstance(store_of(alias).broker, RedisBroker)


def job_count(alias: str) -> int:
    """How many jobs the store holds, whatever their status."""
    from backroom.models import Job

    if _is_redis(alias):  # one hash per job
        redis = redis_of(alias)
        return sum(1 for _ in redis.client.scan_iter(match=f"{{{redis.keys.prefix}:*}}:job:*", count=1000))
    return Job.objects.using(alias).count()


def schedule_runs(alias: str, name: str | None = None) -> list[tuple[str, Any, str]]:
    """The recorded schedule slots (name, slot time, job id), oldest first, of one schedule or all."""
    from backroom.brokers.redis.codec import from_micros
    from backroom.models import ScheduleRun

    if _is_redis(alias):  # per queue and schedule: slots in a sorted set, their jobs in a hash
        redis = redis_of(alias)
        found = []
        for queue in redis.queue_names():
            names = [name] if name else sorted(redis.client.smembers(redis.keys.of_queue(queue, "schedules")))
            for schedule in names:
                served = redis.client.hgetall(redis.keys.of_queue(queue, f"schedule:{schedule}:runs"))
                for slot in redis.client.zrange(
                    redis.keys.of_queue(queue, f"schedule:{schedule}:slots"), 0, -1
                ):
                    found.append((schedule, from_micros(slot), served[slot].split(" ")[0]))
        return sorted(found, key=lambda run: run[1])
    rows = ScheduleRun.objects.using(alias).order_by("slot_at")
    if name:
        rows = rows.filter(schedule_name=name)
    return [(r.schedule_name, r.slot_at, str(r.job_id)) for r in rows]


def delete_job(alias: str, job_id: str) -> None:
    """Remove a job from the store, as pruning or an operator would."""
    from backroom.models import Job

    if _is_redis(alias):
        job = stored_job(alias, job_id)
        redis_of(alias).client.delete(redis_of(alias).keys.job(job.queue_name, job_id))
    else:
        Job.objects.using(alias).filter(id=job_id).delete()


def worker_count(alias: str) -> int:
    """How many workers are registered in the store."""
    from backroom.models import Worker

    if _is_redis(alias):
        redis = redis_of(alias)
        return redis.client.hlen(redis.keys.workers)
    return Worker.objects.using(alias).count()


def wait_until(
    condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


def backroom_verb(*args: str) -> tuple[int, str, str]:
    """Run ``manage.py backroom ARGS`` in this process; return its exit code, stdout and stderr."""
    from django.core.management import CommandError, call_command

    out, err = StringIO(), StringIO()
    try:
        call_command("backroom", *args, stdout=out, stderr=err)
    except SystemExit as exc:  # a verb that says why it failed exits with its status
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        BACKROOM_TEST_SUBPROCESS="1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _limit_address_space(megabytes: int) -> Callable[[], None]:
    """A ulimit -v for the child, as a memory-capped container would impose."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (megabytes << 20, megabytes << 20))

    return limit


class WorkerProcess:
    """``manage.py backroom worker`` (or another verb) in a subprocess, its output kept in a file.

    Keyword arguments other than ``log_dir``, ``verb`` and ``address_space_mb``
    (a ``ulimit -v`` for the process) are environment variables, for example
    ``DJANGO_SETTINGS_MODULE``.
    """

    def __init__(
        self,
        *args: str,
        log_dir: Path,
        verb: str = "worker",
        address_space_mb: int | None = None,
        **env: str,
    ) -> None:
        self.log_path = log_dir / f"worker-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "django", "backroom", verb, *args],
            cwd=ROOT,
            env=subprocess_env(**env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if address_space_mb is None else _limit_address_space(address_space_mb),
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker did not exit within {timeout}s:\n{self.output()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._log.close()
