"""What ``backroom schedules`` and the dashboard show: every schedule, where it comes from, and its runs.

Declared schedules (backroom's, code, settings) and database ones, paused
included, each with why it does not run when it does not, its last run (the
last slot enqueued, and how that job is doing) and its next one.
"""

from dataclasses import dataclass
from datetime import datetime

from ..backends.stores import store_for
from ..models import StoredSchedule
from .declaration import Schedule
from .registry import declared, problems, resolve, zone
from .slots import next_slot
from .stored import as_schedule, available, store_errors, stored_faults


@dataclass(frozen=True, slots=True, kw_only=True)
class Listed:
    """One schedule as the listings show it."""

    schedule: Schedule
    row_id: int | None = None  # the database row, which may be edited
    paused: bool = False
    problem: str | None = None  # why it does not run
    when: str = ""
    queue_name: str = ""
    backend: str = ""
    last_run: datetime | None = None  # on the schedule's clock
    last_status: str | None = None  # of the last run's job, lower case; "pruned" when gone
    next_run: datetime | None = None  # on the schedule's clock; None when paused


def listed(now: datetime) -> list[Listed]:
    """List every schedule by name, a database one after a declared one of the same name."""
    declared_schedules = declared().schedules
    entries = [_listed(schedule, problems(schedule), now) for schedule in declared_schedules]
    with store_errors("list the database schedules"):
        rows = list(StoredSchedule.objects.all()) if available() else []
    for row in rows:
        schedule = as_schedule(row)
        found = [
            f"{schedule.origin}: {fault.message}" for fault in stored_faults(schedule, declared_schedules)
        ]
        entries.append(_listed(schedule, found, now, row_id=row.pk, paused=not row.enabled))
    return sorted(entries, key=lambda entry: (entry.schedule.name, entry.row_id is not None))


def _listed(
    schedule: Schedule, found: list[str], now: datetime, row_id: int | None = None, paused: bool = False
) -> Listed:
    """Describe one schedule; its runs are read from its store when it is valid."""
    if found:
        return Listed(schedule=schedule, row_id=row_id, paused=paused, problem=found[0])
    task, tz = resolve(schedule), zone(schedule)
    broker = store_for(task.backend).broker
    last = broker.last_slots([schedule.name]).get(schedule.name)
    job = broker.get(last.job_id) if last is not None else None
    return Listed(
        schedule=schedule, row_id=row_id, paused=paused,
        when=schedule.every + (f" ({tz.key})" if schedule.cron is not None else ""),
        queue_name=task.queue_name, backend=task.backend,
        last_run=last.slot_at.astimezone(tz) if last is not None else None,
        last_status=None if last is None else job.status.lower() if job is not None else "pruned",
        next_run=None if paused else next_slot(schedule, now, tz).astimezone(tz),
    )  # fmt: skip
