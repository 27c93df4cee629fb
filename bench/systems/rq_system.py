"""RQ, with its fastest ways to run jobs: SimpleWorker, and ``rq worker-pool`` of SimpleWorkers.

SimpleWorker runs jobs in the worker process itself, one at a time; ``rq
worker-pool -n N`` runs N such workers under one command: RQ's way to run N
jobs at a time. Left out, measured slower (docs/performance.md): the default
Worker, which forks a work horse per job (80 jobs/s against SimpleWorker's
266 in one run), and SpawnWorker, which starts a new interpreter per job.

Every RQ key is under the session's own prefix (RQ_KEY_PREFIX, RQ 3.0), so
that two bench runs on one Redis database never see each other's jobs. RQ
reads it when first imported: this module imports RQ only once setup() has
set it.
"""

import importlib
import sys
from pathlib import Path
from typing import Any

from .base import System, Worker

SIMPLE = "rq.worker.SimpleWorker"


class Rq(System):
    name = "rq"
    store = "redis"
    workers = (Worker("SimpleWorker", 1), Worker("worker-pool", 2), Worker("worker-pool", 4))
    view_enqueue = "rq"

    @property
    def key_prefix(self) -> str:
        return f"{self.scratch.name}_rq"

    def env(self) -> dict[str, str]:
        return {**super().env(), "RQ_KEY_PREFIX": self.key_prefix}

    def setup(self) -> None:
        super().setup()
        self.tasks: Any = importlib.import_module("rq_tasks")
        self.queue: Any = self.tasks.queue()

    def teardown(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.scratch.delete_redis_keys(f"{self.key_prefix}:*")

    def enqueue_noop(self) -> None:
        self.queue.enqueue(self.tasks.noop)

    def enqueue_many(self, count: int) -> None:
        from rq import Queue

        self.queue.enqueue_many([Queue.prepare_data(self.tasks.noop) for _ in range(count)])

    def enqueue_stamp(self, key: str) -> None:
        self.queue.enqueue(self.tasks.stamp, key)

    def worker_command(self, worker: Worker) -> list[str]:
        rq = str(Path(sys.executable).with_name("rq"))
        common = ["--url", self.scratch.redis_url, "--quiet", self.tasks.QUEUE_NAME]
        if worker.kind == "SimpleWorker":
            return [rq, "worker", "--worker-class", SIMPLE, *common]
        pool = ["--num-workers", str(worker.concurrency)]
        return [rq, "worker-pool", "--worker-class", SIMPLE, *pool, *common]

    def count_finished(self) -> int:
        return int(self.queue.finished_job_registry.count)
