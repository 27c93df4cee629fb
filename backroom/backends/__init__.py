from .database import DatabaseBackend
from .redis import RedisBackend

__all__ = ["DatabaseBackend", "RedisBackend"]
