"""``manage.py backroom cancel``: cancel ready jobs, ask running ones to stop."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from ...brokers.contract import Cancelled
from ..arguments import add_backend
from .retry import inspector_for

HELP = "Cancel ready jobs and ask running ones to stop; exit 1 if any job was neither."
#: What each refusal means, for the person who asked.
REFUSED = {Cancelled.UNKNOWN: "no such job", Cancelled.FINISHED: "it has already finished"}


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("job_ids", nargs="+", metavar="JOB_ID", help="Ids of the jobs to cancel.")
    add_backend(parser)


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
            command.stdout.write(
                f"asked {job_id} to stop: it is running, and stops "
                "if its task checks context.is_cancel_requested()"
            )
        else:
            refused += 1
            command.stderr.write(f"not cancelled {job_id}: {REFUSED[done]}")
    return 1 if refused else 0
