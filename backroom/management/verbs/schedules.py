"""``manage.py backroom schedules``: list the schedules with their source, last and next run."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from ...scheduler.listing import Listed, listed

HELP = "List the schedules (declared and in the database), with their last and next run."
COLUMNS = ("NAME", "SOURCE", "TASK", "WHEN", "MISSED", "QUEUE", "BACKEND", "LAST RUN", "NEXT RUN")
TIME = "%Y-%m-%d %H:%M %Z"


def add_arguments(parser: CommandParser) -> None:
    pass


def handle(command: BaseCommand, **options: Any) -> int:
    rows = [_row(entry) for entry in listed(timezone.now())]
    if not rows:
        command.stdout.write("No schedules.")
        return 0
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    for row in [COLUMNS, *rows]:
        command.stdout.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def _row(entry: Listed) -> tuple[str, ...]:
    schedule = entry.schedule
    source = schedule.source + (" (paused)" if entry.paused else "")
    if entry.problem is not None:
        return (schedule.name, source, schedule.task, "INVALID", "", "", "", "", entry.problem)
    last = "never" if entry.last_run is None else f"{entry.last_run.strftime(TIME)} ({entry.last_status})"
    upcoming = "paused" if entry.next_run is None else entry.next_run.strftime(TIME)
    return (
        schedule.name, source, schedule.task, entry.when, schedule.missed, entry.queue_name,
        entry.backend, last, upcoming,
    )  # fmt: skip
