"""The Redis backend: jobs in Redis (one server or a cluster), for deployments that outgrow their database."""

from functools import cache
from typing import Any

from django.core import checks

from ..conf import REDIS_OPTIONS, BackendSettings
from ..jobs.building import JobFactory
from ..store import Store
from .base import BackroomBackend


class RedisBackend(BackroomBackend):
    """Store jobs in Redis at ``OPTIONS["REDIS_URL"]``, under ``OPTIONS["KEY_PREFIX"]``.

    With ``OPTIONS["REDIS_CLUSTER"]`` the URL names a node of a Redis Cluster.
    With ``OPTIONS["ENQUEUE_ON_COMMIT"]``, a job enqueued inside
    ``transaction.atomic()`` on ``OPTIONS["DATABASE"]`` is written when that
    transaction commits, and never if it rolls back.
    """

    store_options = REDIS_OPTIONS

    def make_store(self, settings: BackendSettings) -> Store:
        return _shared_store(self.alias, settings, type(self), frozenset(self.queues))

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        messages = super().check(**kwargs) + self.check_package("redis", "redis-py", "redis", "backroom.E004")
        if self.settings.enqueue_on_commit:
            messages += self.check_database()
        return messages


@cache
def _shared_store(alias: str, settings: BackendSettings, sender: type, queues: frozenset[str]) -> Store:
    """One store (one connection pool, scripts loaded once) per configuration and process.

    Django builds a backend per thread, and a threaded server runs each request
    in a new thread: without sharing, every request would connect to Redis and
    load the scripts again (about 7 ms measured under runserver).
    """
    from ..brokers.redis import RedisBroker, RedisInspector, RedisStore, redacted  # redis-py is optional

    redis_store = RedisStore(settings.redis_url, settings.key_prefix, cluster=settings.redis_cluster)
    broker = RedisBroker(
        redis_store,
        on_commit_database=settings.database if settings.enqueue_on_commit else None,
        result_ttl_seconds=settings.result_ttl_seconds,
        queue_limits=settings.queue_limits,
    )
    kind = "Redis Cluster" if settings.redis_cluster else "Redis"
    return Store(
        alias=alias,
        settings=settings,
        broker=broker,
        inspector=RedisInspector(redis_store, broker),
        jobs=JobFactory(settings, broker.new_ids),
        sender=sender,
        queues=queues,
        description=f"{kind} at {redacted(settings.redis_url)} (prefix {settings.key_prefix!r})",
    )
