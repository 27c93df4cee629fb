"""``manage.py backroom prune``: delete finished jobs past their retention, now."""

from dataclasses import replace
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...compat import DEFAULT_TASK_BACKEND_ALIAS
from ...scheduler.retention import prune, read_retention
from .worker import backroom_store

HELP = 'Delete finished jobs past BACKROOM["RETENTION"] now (the maintenance schedule does it hourly).'


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--backend", default=DEFAULT_TASK_BACKEND_ALIAS, help="TASKS alias. Default: default."
    )
    parser.add_argument("--successful-days", type=float, default=None, help="Keep successful jobs this long.")
    parser.add_argument(
        "--failed-days", type=float, default=None, help="Keep failed and cancelled jobs this long."
    )
    parser.add_argument("--batch-size", type=int, default=None, help="Rows deleted per transaction.")


def handle(command: BaseCommand, **options: Any) -> int:
    store = backroom_store(options["backend"])
    retention, _ = read_retention()
    overrides = {
        name: options[name]
        for name in ("successful_days", "failed_days", "batch_size")
        if options[name] is not None
    }
    if any(value <= 0 for value in overrides.values()):
        raise CommandError("--successful-days, --failed-days and --batch-size must be above 0.")
    retention = replace(retention, **overrides)
    pruned = prune(store.broker, retention, timezone.now())
    command.stdout.write(
        f"Deleted {pruned.jobs} finished jobs and {pruned.schedule_runs} schedule runs "
        f"(kept: successful {retention.successful_days:g} days, failed {retention.failed_days:g} days)."
    )
    return 0
