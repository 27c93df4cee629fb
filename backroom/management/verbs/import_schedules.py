"""``manage.py backroom import-schedules``: Celery beat and Django-Q2 schedules become database schedules."""

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...scheduler.importing import (
    DJANGO_Q_TABLE,
    SETTING,
    Outcome,
    celery_schedules,
    django_q_schedules,
    save,
)

HELP = f"Create database schedules from settings.{SETTING} and Django-Q2's {DJANGO_Q_TABLE} table."


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="Only say what would be created.")


def handle(command: BaseCommand, **options: Any) -> int:
    found = celery_schedules() + django_q_schedules()
    if not found:
        command.stdout.write(f"Nothing to import: no {SETTING} in settings, no {DJANGO_Q_TABLE} table.")
        return 0
    outcomes: Counter[Outcome] = Counter()
    for schedule in found:
        outcome, detail = save(schedule, dry_run=options["dry_run"])
        outcomes[outcome] += 1
        command.stdout.write(f"{schedule.origin}: {outcome}" + (f": {detail}" if detail else ""))
    command.stdout.write(", ".join(f"{count} {outcome}" for outcome, count in outcomes.items()) + ".")
    return 0
