"""What the verbs of ``manage.py backroom`` share about options: one-line errors, checked numbers.

A mistyped option should cost one line on stderr, never a traceback or the
whole usage again: numbers are checked by argparse itself, as it parses.
"""

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from django.core.management.base import CommandError, CommandParser

from ..compat import DEFAULT_TASK_BACKEND_ALIAS


class VerbParser(CommandParser):
    """A verb's parser: a bad option ends the command with one line on stderr (exit 2)."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[Any, list[str]]:
        """Refuse unknown arguments here: the command's own parser would repeat its whole usage."""
        parsed, unknown = super().parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed, unknown

    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message} (--help lists the options)\n")
        raise CommandError(f"Error: {message}")  # called from code: as Django's own parser does


def integer(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, not {value}")
        return value

    return parse


def number(low: float, *, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number, at least ``low`` (or above it)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (above and value == low):
            bound = "above" if above else "at least"
            raise argparse.ArgumentTypeError(f"must be a number {bound} {low:g}, not {text}")
        return value

    return parse


def add_backend(parser: CommandParser) -> None:
    """The ``--backend`` option of the verbs that act on one backend."""
    parser.add_argument(
        "--backend", default=DEFAULT_TASK_BACKEND_ALIAS, metavar="ALIAS",
        help=f"Use the backroom backend TASKS[ALIAS]. Default: {DEFAULT_TASK_BACKEND_ALIAS}.",
    )  # fmt: skip
