"""The database backend: jobs in a table of your Django database (SQLite or PostgreSQL)."""

from functools import cached_property
from typing import Any

from django.core import checks
from django.db import connections

from ..brokers.base import Broker
from ..brokers.database import DatabaseBroker
from ..brokers.dialects import dialect_for
from .base import BackroomBackend


class DatabaseBackend(BackroomBackend):
    """Store jobs in the database named by ``OPTIONS["DATABASE"]`` (default "default").

    Enqueue writes through Django's connection for that alias, so a job
    enqueued inside ``transaction.atomic()`` commits or rolls back with it.
    """

    @cached_property
    def broker(self) -> Broker:
        return DatabaseBroker(self.settings.database)

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        messages = super().check(**kwargs) + self.check_database()
        if self.settings.database in connections:
            try:
                dialect_for(connections[self.settings.database])
            except NotImplementedError as exc:
                messages.append(checks.Error(str(exc), id="backroom.E003"))
        return messages
