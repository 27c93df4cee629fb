"""The pickup task's first line, for every system: push time.time() to a Redis list the bench waits on."""

import os
import time
from typing import Any

# redis is imported at the first pickup, not with the tasks module: that import alone (0.13-0.2 s)
# would count in the start-up of every worker on a SQL store, which never touches Redis.
_client: Any = None


def record_pickup(key: str) -> None:
    """Push the time now to ``key``; the time is taken before anything else, connecting included."""
    now = time.time()
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    _client.rpush(key, repr(now))
