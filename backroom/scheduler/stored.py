"""Schedules kept in the database: created, edited, paused and deleted at runtime.

They are rows of ``backroom_schedule`` (``StoredSchedule``), in the database
Django's routers pick for backroom's models, the default one unless a router
says otherwise, whatever store the jobs go to: a project on Redis keeps them
there too, and its schedulers enqueue their slots through Redis. Schedulers
compare a fingerprint of the table (row count, latest ``updated_at``) every
tick and read the rows again only when it changed.

A database schedule may not take the name of a declared one (code, settings,
backroom's own): the form refuses it, and a row that a later deploy shadows
does not run (``taken_by`` says why, in the log and in the listings). The
caller passes the declared schedules (``registry.declared()``), read once for
many rows.
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from django.db import connections, router
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from ..brokers.database.connection import Database
from ..models import StoredSchedule
from .declaration import Schedule, Source
from .registry import Fault, faults

#: Row count and latest ``updated_at``: an insert or a delete changes the first, an edit the second.
Fingerprint = tuple[int, datetime | None]


def available() -> bool:
    """Whether a database can hold schedules: a project on Redis alone may have none (Django's dummy)."""
    alias = router.db_for_read(StoredSchedule)
    return connections[alias].settings_dict["ENGINE"] != "django.db.backends.dummy"


def store_errors(doing: str) -> AbstractContextManager[None]:
    """Turn the errors of the schedules' database into backroom's store errors (no table: run migrate)."""
    return Database(router.db_for_read(StoredSchedule)).errors(doing)


def fingerprint() -> Fingerprint:
    """Read what changes whenever a row is added, edited, paused or deleted, in one cheap query."""
    with store_errors("read the database schedules"):
        found = StoredSchedule.objects.aggregate(count=Count("id"), latest=Max("updated_at"))
    return found["count"], found["latest"]


def enabled() -> list[Schedule]:
    """Read the schedules that are not paused."""
    with store_errors("read the database schedules"):
        rows = list(StoredSchedule.objects.filter(enabled=True))
    return [as_schedule(row) for row in rows]


def set_enabled(rows: QuerySet[StoredSchedule], enabled: bool) -> int:
    """Pause or resume ``rows``; return how many there were."""
    # update() skips auto_now, and schedulers notice changes by updated_at.
    return rows.update(enabled=enabled, updated_at=timezone.now())


def as_schedule(row: StoredSchedule) -> Schedule:
    """The schedule a row describes; blank fields mean what a declaration leaving them out means."""
    return Schedule(
        name=row.name, task=row.task, cron=row.cron or None, interval=row.interval,
        timezone=row.timezone or None, args=row.args, kwargs=row.kwargs,
        queue_name=row.queue_name or None, priority=row.priority, backend=row.backend or None,
        missed=row.missed, missed_limit=row.missed_limit,
        origin=f"database schedule {row.name!r}", source=Source.DATABASE,
    )  # fmt: skip


def taken_by(name: str, declared: Sequence[Schedule]) -> Fault | None:
    """Refuse a database schedule the name of a declared one, which wins: declarations are code."""
    for schedule in declared:
        if schedule.name == name:
            return Fault("name", f"{name!r} is the name of {schedule.origin}; choose another.")
    return None


def stored_faults(schedule: Schedule, declared: Sequence[Schedule]) -> list[Fault]:
    """Say what is wrong with a database schedule: its name, then what any schedule is checked for."""
    clash = taken_by(schedule.name, declared)
    return [clash, *faults(schedule)] if clash is not None else faults(schedule)
