"""The pickup task's first line, for every system: push time.time() to a Redis list the bench waits on."""

import os
import time

import redis

_client: redis.Redis | None = None


def record_pickup(key: str) -> None:
    """Push the time now to ``key``; the time is taken before anything else, connecting included."""
    now = time.time()
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    _client.rpush(key, repr(now))
