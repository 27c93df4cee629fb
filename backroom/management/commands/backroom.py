"""``manage.py backroom <verb>``: one command, one module per verb in ``backroom.management.verbs``."""

import argparse
import importlib
import importlib.metadata
import pkgutil
import sys
from types import ModuleType
from typing import Any

import django
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...exceptions import StoreError
from .. import verbs
from ..arguments import VerbParser


def _verbs() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(verbs.__path__):
        # A module name cannot hold a dash: import_schedules is the verb import-schedules.
        found[info.name.replace("_", "-")] = importlib.import_module(f"{verbs.__name__}.{info.name}")
    return found


def version() -> str:
    """backroom's version, from the installed package's metadata."""
    try:
        return importlib.metadata.version("django-backroom")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


class Command(BaseCommand):
    help = "Run and inspect backroom's workers and jobs. `manage.py backroom VERB --help` describes a verb."

    def get_version(self) -> str:
        return f"backroom {version()} (Django {django.get_version()})"

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(
            dest="verb", metavar="verb", required=True, parser_class=VerbParser
        )
        for name, module in sorted(_verbs().items()):
            sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
            # Accept Django's common options after the verb too: `backroom worker -v 2`.
            sub.add_argument(
                "-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=argparse.SUPPRESS,
                help="0: warnings and errors only, 1: normal (default), 2 and 3: debug lines too.",
            )  # fmt: skip
            sub.add_argument(
                "--traceback", action="store_true", default=argparse.SUPPRESS,
                help="Show the traceback of an error instead of its one line.",
            )  # fmt: skip
            module.add_arguments(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            code = _verbs()[options["verb"]].handle(self, **options)
        except StoreError as exc:  # the store is down or not migrated
            raise CommandError(" ".join(str(exc).split())) from exc
        if code:
            # The verb has said why; exit as Django's `migrate --check` does, without a CommandError line.
            sys.exit(code)
