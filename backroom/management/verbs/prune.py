"""``manage.py backroom prune``: delete finished jobs past their retention, now."""

from dataclasses import replace
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from ...scheduler.retention import Retention, prune, read_retention
from ..arguments import add_backend, integer, number
from .worker import backroom_store

DEFAULT = Retention()
HELP = 'Delete finished jobs past BACKROOM["RETENTION"] now (the maintenance schedule does it hourly).'


def add_arguments(parser: CommandParser) -> None:
    add_backend(parser)
    parser.add_argument(
        "--successful-days", type=number(0, above=True), default=None, metavar="DAYS",
        help='Keep successful jobs this many days (fractions allowed). '
        f'Default: RETENTION["SUCCESSFUL_DAYS"], else {DEFAULT.successful_days:g}.',
    )  # fmt: skip
    parser.add_argument(
        "--failed-days", type=number(0, above=True), default=None, metavar="DAYS",
        help='Keep failed and cancelled jobs this many days. '
        f'Default: RETENTION["FAILED_DAYS"], else {DEFAULT.failed_days:g}.',
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=integer(1), default=None, metavar="N",
        help="Delete at most N rows per transaction, so that other work never waits long. "
        f'Default: RETENTION["BATCH_SIZE"], else {DEFAULT.batch_size}.',
    )  # fmt: skip


def handle(command: BaseCommand, **options: Any) -> int:
    store = backroom_store(options["backend"])
    retention, _ = read_retention()
    overrides = {
        name: options[name]
        for name in ("successful_days", "failed_days", "batch_size")
        if options[name] is not None
    }
    retention = replace(retention, **overrides)
    pruned = prune(store.broker, retention, timezone.now())
    command.stdout.write(
        f"Deleted {pruned.jobs} finished jobs and {pruned.schedule_runs} schedule runs "
        f"(kept: successful {retention.successful_days:g} days, failed {retention.failed_days:g} days)."
    )
    return 0
