"""The Redis store: jobs in Redis 7, on one server or a Redis Cluster."""

from .broker import RedisBroker
from .connection import RedisStore, redacted
from .inspector import RedisInspector

__all__ = ["RedisBroker", "RedisInspector", "RedisStore", "redacted"]
