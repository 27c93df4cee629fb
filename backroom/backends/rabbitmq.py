"""The RabbitMQ backend: jobs' state in your Django database, their dispatch through RabbitMQ."""

from functools import cache
from typing import Any

from django.core import checks
from django.db import connections

from ..brokers.database import DatabaseInspector
from ..conf import RABBITMQ_OPTIONS, BackendSettings, hidden_url
from ..jobs.building import JobFactory
from ..store import Store
from .database import DatabaseBackend


class RabbitMQBackend(DatabaseBackend):
    """Store jobs in the database named by ``OPTIONS["DATABASE"]``; dispatch them through RabbitMQ.

    ``OPTIONS["RABBITMQ_URL"]`` names the server (and vhost), ``OPTIONS["QUEUE_PREFIX"]``
    starts the name of its exchange and queues. A job enqueued inside
    ``transaction.atomic()`` is published when that transaction commits,
    never if it rolls back (docs/rabbitmq.md).
    """

    store_options = RABBITMQ_OPTIONS

    def make_store(self, settings: BackendSettings) -> Store:
        return _shared_store(self.alias, settings, type(self), frozenset(self.queues))

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return super().check(**kwargs) + self.check_package("pika", "pika", "rabbitmq", "backroom.E005")


@cache
def _shared_store(alias: str, settings: BackendSettings, sender: type, queues: frozenset[str]) -> Store:
    """One store per configuration and process: Django builds a backend per thread."""
    from ..brokers.rabbitmq import RabbitMQ, RabbitMQBroker  # pika is optional

    rabbitmq = RabbitMQ(settings.rabbitmq_url, settings.queue_prefix)
    broker = RabbitMQBroker(settings.database, rabbitmq, queue_limits=settings.queue_limits)
    vendor = connections[settings.database].vendor
    return Store(
        alias=alias,
        settings=settings,
        broker=broker,
        inspector=DatabaseInspector(settings.database),
        jobs=JobFactory(settings, broker.new_ids),
        sender=sender,
        queues=queues,
        description=(
            f"database {settings.database!r} ({vendor}) with RabbitMQ at {hidden_url(settings.rabbitmq_url)} "
            f"(prefix {settings.queue_prefix!r})"
        ),
    )
