"""The I/O shared by the database broker and inspector: a connection, its dialect, its errors.

Everything runs through Django's connection for the configured alias, so a
job enqueued inside ``transaction.atomic()`` commits or rolls back with it.
Django's database errors end here: an outage becomes ``StoreUnavailable``,
missing tables ``StoreNotReady``, anything else ``StoreError``.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from ...exceptions import StoreError, StoreNotReady, StoreUnavailable
from ...jobs.records import JobRecord
from . import codec
from .dialect import Dialect
from .mysql import dialect as mysql
from .postgresql import dialect as postgresql
from .sqlite import dialect as sqlite
from .statements import Statements

_DIALECTS: dict[str, Dialect] = {d.vendor: d for d in (postgresql, sqlite, mysql)}


def dialect_for(connection: BaseDatabaseWrapper) -> Dialect:
    """The dialect of a Django connection; NotImplementedError names the databases backroom supports."""
    try:
        return _DIALECTS[connection.vendor]
    except KeyError:
        raise NotImplementedError(
            f"backroom's database backend supports PostgreSQL, SQLite, MariaDB and MySQL, not "
            f"{connection.display_name} (database {connection.alias!r})."
        ) from None


def schema_missing(exc: Exception, where: str = "", doing: str = "") -> StoreNotReady:
    """The one-line error of a call that found backroom's tables missing: it says to run migrate."""
    # The first line: PostgreSQL's error goes on with the statement, which tells the reader nothing.
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreNotReady(
        f"backroom's tables are missing or out of date{where}: "
        f"run `python manage.py migrate` ({doing}{detail})."
    )


class Database:
    """The Django database named ``alias``, as backroom's stores use it."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    @property
    def connection(self) -> BaseDatabaseWrapper:
        """The calling thread's connection (Django keeps one per thread)."""
        return connections[self.alias]

    @cached_property
    def dialect(self) -> Dialect:
        return dialect_for(self.connection)

    @cached_property
    def sql(self) -> Statements:
        return Statements(self.dialect)

    def id(self, job_id: str) -> str:
        return codec.db_id(self.connection, job_id)

    def time(self, value: datetime | None) -> Any:
        return codec.db_time(self.connection, value)

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn database errors into backroom's store errors, ``doing`` in their message.

        IntegrityError passes: a unique key taken is for the caller to judge.
        """
        try:
            yield
        except IntegrityError:
            raise
        except DatabaseError as exc:
            raise self._translated(exc, doing) from exc

    @contextmanager
    def cursor(self, doing: str, *, bound: bool = False) -> Iterator[CursorWrapper]:
        """A cursor of the calling thread's connection; ``bound`` for a statement run very often.

        A bound cursor sends the parameters apart from the statement where
        the database can (PostgreSQL), instead of quoting each into its text.
        """
        connection = self.connection
        with self.errors(doing):
            with self.dialect.bound_cursor(connection) if bound else connection.cursor() as cursor:
                yield cursor

    @contextmanager
    def atomic(self, doing: str) -> Iterator[CursorWrapper]:
        """A cursor inside one transaction (a savepoint within the caller's, if any)."""
        with self.errors(doing), transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            yield cursor

    def _translated(self, exc: DatabaseError, doing: str) -> StoreError:
        where = f"database {self.alias!r}"
        if self.dialect.lacks_schema(exc):
            return schema_missing(exc, f" in {where}", f"could not {doing}: ")
        if isinstance(exc, (OperationalError, InterfaceError)):
            if not self.connection.in_atomic_block:
                # Outside a request cycle nothing else drops a broken connection: the next call reconnects.
                self.connection.close_if_unusable_or_obsolete()
            return StoreUnavailable(f"Could not {doing}: the job store ({where}) is unavailable: {exc}")
        return StoreError(f"Could not {doing}: {where} refused it: {exc}")

    def fetch_jobs(self, cursor: CursorWrapper) -> list[JobRecord]:
        return [codec.job_from_row(row) for row in cursor.fetchall()]

    def jobs_by_id(self, ids: Sequence[str], doing: str) -> dict[str, JobRecord]:
        """Read jobs by id (made by backroom, or read from the store) through the codec."""
        if not ids:
            return {}
        with self.cursor(doing) as cursor:
            cursor.execute(self.sql.select_by_ids(len(ids)), codec.db_ids(self.connection, ids))
            return {job.id: job for job in self.fetch_jobs(cursor)}

    def reset(self) -> None:
        """Drop the calling thread's connection, so the next call reconnects."""
        try:
            self.connection.close()
        except DatabaseError:
            pass  # closing a broken connection can fail; Django drops it all the same
