"""``manage.py backroom scheduler``: enqueue scheduled tasks without running any."""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...scheduler.runner import scheduler_for
from ..arguments import add_backend
from .worker import backroom_store, log_to_stderr

HELP = "Enqueue scheduled tasks at their slots (workers do this too unless --no-scheduler)."


def add_arguments(parser: CommandParser) -> None:
    add_backend(parser)


def handle(command: BaseCommand, **options: Any) -> int:
    scheduler = scheduler_for(backroom_store(options["backend"]))
    if scheduler is None:
        raise CommandError(f"No valid schedule uses TASKS[{options['backend']!r}]: nothing to do.")
    log_to_stderr(options["verbosity"])
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    names = [s.name for s in scheduler.declared] + (
        ["the database's schedules"] if scheduler.read_stored else []
    )
    command.stdout.write(f"scheduler running for {options['backend']!r}: {', '.join(names)}")
    scheduler.run(stop)
    return 0
