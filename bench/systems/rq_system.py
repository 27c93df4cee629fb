"""RQ, with its SimpleWorker (runs jobs in the worker process, one at a time, no fork per job)."""

import importlib
import sys
from pathlib import Path
from typing import Any

from rq import Queue

from .base import System


class Rq(System):
    name = "rq"
    view_enqueue = "rq"
    note = "rq: SimpleWorker, one job at a time (the default worker forks a process per job)."

    def setup(self) -> None:
        super().setup()
        self.tasks: Any = importlib.import_module("rq_tasks")
        self.queue: Queue = self.tasks.queue()

    def teardown(self) -> None:
        self.reset()

    def reset(self) -> None:
        # RQ has no key prefix: its keys (rq:*) are those of the bench's own Redis database.
        self.scratch.delete_redis_keys("rq:*")

    def enqueue_noop(self) -> None:
        self.queue.enqueue(self.tasks.noop)

    def enqueue_many(self, count: int) -> None:
        self.queue.enqueue_many([Queue.prepare_data(self.tasks.noop) for _ in range(count)])

    def enqueue_stamp(self, key: str) -> None:
        self.queue.enqueue(self.tasks.stamp, key)

    def worker_command(self, concurrency: int) -> list[str]:
        assert concurrency == 1, "SimpleWorker runs one job at a time"
        return [
            str(Path(sys.executable).with_name("rq")), "worker", "--url", self.scratch.redis_url,
            "--worker-class", "rq.worker.SimpleWorker", "--quiet", self.tasks.QUEUE_NAME,
        ]  # fmt: skip

    def count_finished(self) -> int:
        return int(self.queue.finished_job_registry.count)
