"""``manage.py backroom cancel``: cancel ready jobs, ask running ones to stop."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from ...brokers.contract import Cancelled
from ...compat import DEFAULT_TASK_BACKEND_ALIAS
from .retry import inspector_for

HELP = "Cancel ready jobs and ask running ones to stop; exit 1 if any job was neither."


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("job_ids", nargs="+", metavar="JOB_ID", help="Jobs to cancel.")
    parser.add_argument(
        "--backend", default=DEFAULT_TASK_BACKEND_ALIAS, help="TASKS alias. Default: default."
    )


def handle(command: BaseCommand, **options: Any) -> int:
    inspector = inspector_for(options["backend"])
    now = timezone.now()
    by = "manage.py backroom cancel"
    refused = 0
    for job_id in options["job_ids"]:
        done = inspector.cancel(job_id, now, by=by)
        if done == Cancelled.CANCELLED:
            command.stdout.write(f"cancelled {job_id}: it was ready, no worker will run it")
        elif done == Cancelled.REQUESTED:
            command.stdout.write(f"asked {job_id} to stop: it is running")
        else:
            refused += 1
            why = "no such job" if done == Cancelled.UNKNOWN else "it has already finished"
            command.stderr.write(f"not cancelled {job_id}: {why}")
    return 1 if refused else 0
