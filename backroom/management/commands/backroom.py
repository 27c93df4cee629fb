"""``manage.py backroom <verb>``: one command, one module per verb in ``backroom.management.verbs``."""

import argparse
import importlib
import pkgutil
from types import ModuleType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .. import verbs


def _verbs() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(verbs.__path__):
        found[info.name] = importlib.import_module(f"{verbs.__name__}.{info.name}")
    return found


class Command(BaseCommand):
    help = "Run and inspect backroom workers and jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="verb", metavar="verb", required=True)
        for name, module in sorted(_verbs().items()):
            sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
            # Accept Django's common options after the verb too: `backroom worker -v 2`.
            sub.add_argument("-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=argparse.SUPPRESS)
            sub.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS)
            module.add_arguments(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        code = _verbs()[options["verb"]].handle(self, **options)
        if code:
            raise CommandError(f"backroom {options['verb']} exited with status {code}", returncode=code)
