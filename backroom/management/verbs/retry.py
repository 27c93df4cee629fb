"""``manage.py backroom retry``: run failed or cancelled jobs again, by id or all failed of a task."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...brokers.contract import Inspector
from ...jobs.records import JobStatus
from ..arguments import add_backend
from .worker import backroom_store

HELP = "Make failed or cancelled jobs ready again (attempts and errors are kept); exit 1 if any was not."


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "job_ids", nargs="*", metavar="JOB_ID", help="Ids of failed or cancelled jobs to retry."
    )
    parser.add_argument(
        "--failed-of", metavar="TASK_PATH",
        help="Retry every failed job of this task, named by its module path (myapp.tasks.send_email).",
    )  # fmt: skip
    add_backend(parser)


def inspector_for(alias: str) -> Inspector:
    """The Inspector of a TASKS alias, or the error a verb reports."""
    return backroom_store(alias).inspector


def handle(command: BaseCommand, **options: Any) -> int:
    if not options["job_ids"] and not options["failed_of"]:
        raise CommandError("Name job ids, or a task with --failed-of.")
    inspector = inspector_for(options["backend"])
    now = timezone.now()
    if options["failed_of"]:
        count = inspector.retry_failed(options["failed_of"], now)
        command.stdout.write(f"retried {count} failed job(s) of {options['failed_of']}")
    refused = 0
    for job_id in options["job_ids"]:
        if inspector.retry_job(job_id, now):
            command.stdout.write(f"retried {job_id}: it is ready again")
        else:
            refused += 1
            command.stderr.write(f"not retried {job_id}: {_why_not(inspector, job_id)}")
    return 1 if refused else 0


def _why_not(inspector: Inspector, job_id: str) -> str:
    """Why ``retry_job`` refused a job, as the job reads now."""
    job = inspector.get(job_id)
    if job is None:
        return "no such job"
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        return f"it is {job.status.lower()}; only failed or cancelled jobs are retried"
    return f"another active job holds its unique key {job.unique_key!r}"
