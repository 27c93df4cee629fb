"""``manage.py backroom scheduler``: enqueue scheduled tasks without running any."""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...compat import DEFAULT_TASK_BACKEND_ALIAS
from ...scheduler.runner import scheduler_for
from .worker import backroom_store, log_to_stderr

HELP = "Enqueue scheduled tasks at their slots (workers do this too unless --no-scheduler)."


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--backend", default=DEFAULT_TASK_BACKEND_ALIAS, help="TASKS alias. Default: default."
    )


def handle(command: BaseCommand, **options: Any) -> int:
    scheduler = scheduler_for(backroom_store(options["backend"]))
    if scheduler is None:
        raise CommandError(f"No valid schedule uses TASKS[{options['backend']!r}]: nothing to do.")
    log_to_stderr(options["verbosity"])
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    names = ", ".join(s.name for s in scheduler.schedules)
    command.stdout.write(f"scheduler running for {options['backend']!r}: {names}")
    scheduler.run(stop)
    return 0
