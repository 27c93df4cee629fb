"""``manage.py mailsink``: run the demo's SMTP sink."""

import asyncio
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...sink import SlowSink, serve


class Command(BaseCommand):
    help = "Run a local SMTP server that accepts every message after a delay and keeps it for /outbox/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.DEMO_SMTP["port"])
        parser.add_argument(
            "--delay", type=float, default=1.5, help="Seconds before each message is accepted. Default: 1.5."
        )
        parser.add_argument("--outbox", type=Path, default=settings.MAILSINK_OUTBOX)

    def handle(self, *args: Any, **options: Any) -> None:
        handler = SlowSink(options["outbox"], options["delay"])
        address = f"{options['host']}:{options['port']}"

        def ready() -> None:
            self.stdout.write(
                f"SMTP sink listening on {address}, delay {options['delay']:g}s, outbox {options['outbox']}"
            )
            self.stdout.flush()

        try:
            asyncio.run(serve(options["host"], options["port"], handler, ready))
        except OSError as exc:
            raise CommandError(f"Cannot listen on {address}: {exc}") from exc
