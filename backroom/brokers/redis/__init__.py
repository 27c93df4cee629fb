"""Redis 7 as the store: Lua scripts for every write, pub/sub to wake idle workers."""

from .broker import RedisBroker

__all__ = ["RedisBroker"]
