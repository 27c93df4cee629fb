"""``manage.py backroom resume``: workers claim a paused queue's jobs again."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from .pause import add_queues, queues_store

HELP = "Resume paused queues: workers claim their jobs again, idle ones at once."


def add_arguments(parser: CommandParser) -> None:
    add_queues(parser, "resume")


def handle(command: BaseCommand, **options: Any) -> int:
    inspector = queues_store(options).inspector
    for queue in options["queues"]:
        if inspector.resume_queue(queue):
            command.stdout.write(f"resumed {queue}")
        else:
            command.stdout.write(f"{queue} was not paused")
    return 0
