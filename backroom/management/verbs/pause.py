"""``manage.py backroom pause``: workers stop claiming a queue's jobs until it is resumed."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...jobs.building import QUEUE_NAME
from ...store import Store
from ..arguments import add_backend
from .worker import backroom_store, check_queues

HELP = (
    "Pause queues: every worker leaves their jobs waiting (enqueue goes on, running jobs finish) "
    "until `backroom resume`."
)


def add_queues(parser: CommandParser, doing: str) -> None:
    parser.add_argument("queues", nargs="+", metavar="QUEUE", help=f"Names of the queues to {doing}.")
    add_backend(parser)


def queues_store(options: dict[str, Any]) -> Store:
    """The store of --backend, once every named queue is one it may hold."""
    store = backroom_store(options["backend"])
    bad = [name for name in options["queues"] if not QUEUE_NAME.match(name)]
    if bad:
        raise CommandError(
            f"Queue name(s) {', '.join(map(repr, bad))} must be 1 to 64 letters, digits or _.:-"
        )
    check_queues(store, options["queues"])
    return store


def add_arguments(parser: CommandParser) -> None:
    add_queues(parser, "pause")


def handle(command: BaseCommand, **options: Any) -> int:
    inspector = queues_store(options).inspector
    now = timezone.now()
    for queue in options["queues"]:
        if inspector.pause_queue(queue, now, by="manage.py backroom pause"):
            command.stdout.write(f"paused {queue}: its jobs wait until `backroom resume {queue}`")
        else:
            command.stdout.write(f"{queue} was already paused")
    return 0
