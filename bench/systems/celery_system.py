"""Celery with the Redis broker and result backend, its worker on each of its pools for CPU-light tasks.

The pools tried: prefork (the default: a process per concurrency slot, as
many as cores unless told), solo (the worker runs tasks itself, one at a
time) and threads. Each worker runs with ``--without-gossip
--without-mingle`` (no cluster to talk to) so that its start-up is not padded
with waits for other workers. eventlet and gevent are left out: they are for
tasks that wait on I/O, and a no-op task does not; so is the threads pool at
concurrency 1, slower than solo and prefork at 1 (docs/performance.md).
"""

import importlib
import sys
from pathlib import Path
from typing import Any

from .base import System, Worker


class Celery(System):
    name = "celery"
    store = "redis"
    workers = (
        Worker("prefork", 1), Worker("prefork", 2), Worker("prefork", 4),
        Worker("solo", 1),
        Worker("threads", 4), Worker("threads", 8),
    )  # fmt: skip
    view_enqueue = "celery"

    def setup(self) -> None:
        super().setup()
        self.app: Any = importlib.import_module("celery_app")

    def teardown(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.scratch.delete_redis_keys(f"{self.app.KEY_PREFIX}*")

    def enqueue_noop(self) -> None:
        self.app.noop.delay()

    def enqueue_stamp(self, key: str) -> None:
        self.app.stamp.delay(key)

    def worker_command(self, worker: Worker) -> list[str]:
        return [
            str(Path(sys.executable).with_name("celery")), "-A", "celery_app", "worker",
            "--pool", worker.kind, "--concurrency", str(worker.concurrency),
            "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
        ]  # fmt: skip

    def count_finished(self) -> int:
        pattern = f"{self.app.KEY_PREFIX}celery-task-meta-*"
        return sum(1 for _ in self.scratch.redis().scan_iter(match=pattern, count=1000))


class CeleryAmqp(Celery):
    """Celery with RabbitMQ as its broker (pyamqp, Celery's default transport); results still in Redis."""

    name = "celery-amqp"
    store = "rabbitmq"
    note = "celery-amqp: Celery's default classic queue on RabbitMQ (pyamqp); results in Redis."

    def env(self) -> dict[str, str]:
        return {**super().env(), "BENCH_CELERY_BROKER": "amqp"}

    def reset(self) -> None:
        super().reset()
        with self.app.app.connection_for_write() as connection:
            channel = connection.default_channel
            channel.queue_declare(self.app.QUEUE, durable=True, auto_delete=False)  # as Celery declares it
            channel.queue_purge(self.app.QUEUE)

    def teardown(self) -> None:
        super().teardown()
        with self.app.app.connection_for_write() as connection:
            connection.default_channel.queue_delete(self.app.QUEUE)
            connection.default_channel.exchange_delete(self.app.QUEUE)  # Celery names it after the queue
