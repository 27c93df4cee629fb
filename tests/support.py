"""Helpers for tests: waiting on conditions with a deadline, and worker processes."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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


def stored_job(store: str, job_id: str) -> Any:
    """The stored job, read through the store's broker (works for every store)."""
    from backroom.compat import task_backends

    record = task_backends[store].broker.get(job_id)
    assert record is not None, f"job {job_id} is not in store {store}"
    return record


def delete_redis_keys() -> None:
    """Delete this run's Redis keys (all under its own prefix): Redis is shared, never flushed."""
    from backroom.compat import task_backends

    task_backends["redis"].broker.delete_all_keys()


def job_count(store: str) -> int:
    """How many jobs the store holds, whatever their status."""
    from backroom.brokers.redis import RedisBroker
    from backroom.compat import task_backends
    from backroom.models import Job

    broker = task_backends[store].broker
    if isinstance(broker, RedisBroker):  # one hash per job
        return sum(1 for _ in broker.client.scan_iter(match=broker.key("job", "*")))
    return Job.objects.using(store).count()


def schedule_runs(store: str, name: str | None = None) -> list[tuple[str, Any, str]]:
    """The recorded schedule slots (name, slot time, job id), oldest first, of one schedule or all."""
    from backroom.brokers.redis import RedisBroker
    from backroom.brokers.redis.codec import from_micros
    from backroom.compat import task_backends
    from backroom.models import ScheduleRun

    broker = task_backends[store].broker
    if isinstance(broker, RedisBroker):  # per schedule: slots in a sorted set, their jobs in a hash
        names = [name] if name else sorted(broker.client.smembers(broker.key("schedules")))
        found = []
        for schedule in names:
            served = broker.client.hgetall(broker.key("schedule", schedule, "runs"))
            for slot in broker.client.zrange(broker.key("schedule", schedule, "slots"), 0, -1):
                found.append((schedule, from_micros(slot), served[slot].split(" ")[0]))
        return sorted(found, key=lambda run: run[1])
    rows = ScheduleRun.objects.using(store).order_by("slot_at")
    if name:
        rows = rows.filter(schedule_name=name)
    return [(r.schedule_name, r.slot_at, str(r.job_id)) for r in rows]


def delete_job(store: str, job_id: str) -> None:
    """Remove a job from the store, as pruning or an operator would."""
    from backroom.brokers.redis import RedisBroker
    from backroom.compat import task_backends
    from backroom.models import Job

    broker = task_backends[store].broker
    if isinstance(broker, RedisBroker):
        broker.client.delete(broker.key("job", job_id))
    else:
        Job.objects.using(store).filter(id=job_id).delete()


def worker_count(store: str) -> int:
    """How many workers are registered in the store."""
    from backroom.brokers.redis import RedisBroker
    from backroom.compat import task_backends
    from backroom.models import Worker

    broker = task_backends[store].broker
    if isinstance(broker, RedisBroker):
        return broker.client.hlen(broker.key("workers"))
    return Worker.objects.using(store).count()


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
