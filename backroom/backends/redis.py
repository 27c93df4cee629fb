"""The Redis backend: jobs in Redis, for deployments that outgrow their database's queue."""

import importlib.util
from functools import cache, cached_property
from typing import Any

from django.core import checks

from ..brokers.base import Broker
from ..conf import REDIS_OPTIONS
from .base import BackroomBackend


class RedisBackend(BackroomBackend):
    """Store jobs in Redis at ``OPTIONS["REDIS_URL"]``, under ``OPTIONS["KEY_PREFIX"]``.

    With ``OPTIONS["ENQUEUE_ON_COMMIT"]``, a job enqueued inside
    ``transaction.atomic()`` on ``OPTIONS["DATABASE"]`` is written when that
    transaction commits, and never if it rolls back.
    """

    store_options = REDIS_OPTIONS

    @cached_property
    def broker(self) -> Broker:
        config = self.settings
        return _shared_broker(
            config.redis_url,
            config.key_prefix,
            config.database if config.enqueue_on_commit else None,
            config.result_ttl_seconds,
        )

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        messages = super().check(**kwargs)
        if importlib.util.find_spec("redis") is None:
            messages.append(
                checks.Error(
                    f"TASKS[{self.alias!r}] uses RedisBackend, but redis-py is not installed: "
                    "pip install 'django-backroom[redis]'.",
                    id="backroom.E004",
                )
            )
        if self.settings.enqueue_on_commit:
            messages += self.check_database()
        return messages


@cache
def _shared_broker(
    url: str, prefix: str, on_commit_database: str | None, result_ttl_seconds: float | None
) -> Broker:
    """One broker (one connection pool, scripts loaded once) per configuration and process.

    Django builds a backend per thread, and a threaded server runs each request
    in a new thread: without sharing, every request would connect to Redis and
    load the scripts again (about 7 ms measured under runserver).
    """
    from ..brokers.redis import RedisBroker  # redis-py is an optional dependency

    return RedisBroker(
        url, prefix, on_commit_database=on_commit_database, result_ttl_seconds=result_ttl_seconds
    )
