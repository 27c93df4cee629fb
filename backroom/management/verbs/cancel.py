"""``manage.py backroom cancel``: cancel ready jobs, ask running ones to stop."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

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
        if inspector.cancel_job(job_id, now, by=by):
            command.stdout.write(f"cancelled {job_id}")
        elif inspector.request_cancel(job_id):
            command.stdout.write(f"asked {job_id} to stop (it is running)")
        else:
            refused += 1
            command.stderr.write(f"not cancelled {job_id}: unknown or already finished")
    return 1 if refused else 0
