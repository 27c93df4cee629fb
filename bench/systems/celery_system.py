"""Celery with the Redis broker and result backend, its worker on the threads pool.

The worker runs with ``--without-gossip --without-mingle`` (no cluster to talk
to) so that its start-up is not padded with waits for other workers.
"""

import importlib
import sys
from pathlib import Path
from typing import Any

from .base import System


class Celery(System):
    name = "celery"
    concurrencies = (1, 4, 8)
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

    def worker_command(self, concurrency: int) -> list[str]:
        return [
            str(Path(sys.executable).with_name("celery")), "-A", "celery_app", "worker",
            "--pool", "threads", "--concurrency", str(concurrency),
            "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
        ]  # fmt: skip

    def count_finished(self) -> int:
        pattern = f"{self.app.KEY_PREFIX}celery-task-meta-*"
        return sum(1 for _ in self.scratch.redis().scan_iter(match=pattern, count=1000))
