"""The database backend: jobs in a table of your Django database (PostgreSQL, SQLite, MariaDB, MySQL)."""

from typing import Any

from django.core import checks
from django.db import connections

from ..brokers.database import DatabaseBroker, DatabaseInspector, dialect_for
from ..conf import BackendSettings
from ..jobs.building import JobFactory
from ..store import Store
from .base import BackroomBackend


class DatabaseBackend(BackroomBackend):
    """Store jobs in the database named by ``OPTIONS["DATABASE"]`` (default "default").

    Enqueue writes through Django's connection for that alias, so a job
    enqueued inside ``transaction.atomic()`` commits or rolls back with it.
    """

    def make_store(self, settings: BackendSettings) -> Store:
        broker = DatabaseBroker(settings.database, queue_limits=settings.queue_limits)
        connection = connections[settings.database]
        return Store(
            alias=self.alias,
            settings=settings,
            broker=broker,
            inspector=DatabaseInspector(settings.database),
            jobs=JobFactory(settings, broker.new_ids),
            sender=type(self),
            queues=frozenset(self.queues),
            description=f"database {settings.database!r} ({connection.vendor})",
        )

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        messages = super().check(**kwargs) + self.check_database()
        if self.settings.database in connections:
            try:
                dialect_for(connections[self.settings.database])
            except NotImplementedError as exc:
                messages.append(checks.Error(str(exc), id="backroom.E003"))
        return messages
