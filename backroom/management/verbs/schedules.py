"""``manage.py backroom schedules``: list the schedules with their last and next run."""

from datetime import datetime, tzinfo
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from ...brokers.contract import Broker, SlotRun
from ...scheduler.declaration import Schedule
from ...scheduler.registry import declared, problems, resolve, zone
from ...scheduler.slots import next_slot
from .worker import backroom_store

HELP = "List the schedules in force, with their last and next run."
COLUMNS = ("NAME", "TASK", "WHEN", "MISSED", "QUEUE", "BACKEND", "LAST RUN", "NEXT RUN")


def add_arguments(parser: CommandParser) -> None:
    pass


def handle(command: BaseCommand, **options: Any) -> int:
    now = timezone.now()
    schedules = sorted(declared().schedules, key=lambda s: s.name)
    rows = [_row(schedule, now) for schedule in schedules]
    if not rows:
        command.stdout.write("No schedules.")
        return 0
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    for row in [COLUMNS, *rows]:
        command.stdout.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def _row(schedule: Schedule, now: datetime) -> tuple[str, ...]:
    if found := problems(schedule):
        return (schedule.name, schedule.task, "INVALID", "", "", "", "", found[0])
    task = resolve(schedule)
    tz = zone(schedule)
    when = schedule.every + (f" ({tz.key})" if schedule.cron is not None else "")
    broker = backroom_store(task.backend).broker
    last = broker.last_slots([schedule.name]).get(schedule.name)
    upcoming = next_slot(schedule, now, tz).astimezone(tz)
    return (
        schedule.name, schedule.task, when, schedule.missed, task.queue_name, task.backend,
        _last_run(last, broker, tz), upcoming.strftime("%Y-%m-%d %H:%M %Z"),
    )  # fmt: skip


def _last_run(last: SlotRun | None, broker: Broker, tz: tzinfo) -> str:
    """The last slot enqueued, and how its job is doing."""
    if last is None:
        return "never"
    job = broker.get(last.job_id)
    status = job.status.lower() if job is not None else "pruned"
    return f"{last.slot_at.astimezone(tz):%Y-%m-%d %H:%M %Z} ({status})"
