"""The bench's RQ tasks and queue: Redis at BENCH_REDIS_URL, the queue named after BENCH_PREFIX."""

import functools
import os

import redis
from rq import Queue
from stamp import record_pickup

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUE_NAME = f"{os.environ.get('BENCH_PREFIX', 'backroom-bench')}-rq"


@functools.cache
def queue() -> Queue:
    """The bench queue, one connection pool per process."""
    return Queue(QUEUE_NAME, connection=redis.Redis.from_url(REDIS_URL))


def noop() -> None:
    """Do nothing."""


def stamp(key: str) -> None:
    """Record when a worker started this task."""
    record_pickup(key)
