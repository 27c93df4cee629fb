"""Cron expressions: validation and the instants they name, in a given timezone.

Pure functions of their inputs, on top of cronsim. Expressions have the five
classic fields (minute hour day-of-month month day-of-week) or are one of the
``@hourly``-style aliases. Times are matched on the wall clock of ``tz``:

- a time that does not exist (the hour skipped when clocks go forward) runs
  once, at the first minute after the gap (``30 2 * * *`` runs at 03:00);
- a time that happens twice (the hour repeated when clocks go back) runs
  once, at its first occurrence;
- expressions whose minute or hour field starts with ``*`` (``*/15 * * * *``,
  ``0 * * * *``) follow real time instead: every quarter of an hour that
  passes, the repeated hour included, and none in the skipped hour.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

from cronsim import CronSim, CronSimError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = 5
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


class InvalidCron(ValueError):
    """A cron expression that backroom cannot run."""


def expand(expr: str) -> str:
    """Return the five-field form of ``expr`` (aliases replaced); raise InvalidCron if it has none."""
    if not isinstance(expr, str):
        raise InvalidCron(f"a cron expression is a string, not {type(expr).__name__}")
    text = ALIASES.get(expr.strip().lower(), expr)
    if len(text.split()) != FIELDS:
        raise InvalidCron(
            f"{expr!r} has {len(text.split())} fields; cron expressions have five "
            "(minute hour day-of-month month day-of-week) or are one of " + ", ".join(ALIASES)
        )
    try:
        next(CronSim(text, _PROBE))
    except (CronSimError, StopIteration) as exc:
        raise InvalidCron(f"{expr!r} is not a valid cron expression: {exc or 'it never matches'}") from exc
    return text


def next_after(expr: str, moment: datetime, tz: tzinfo) -> datetime:
    """Return the first instant named by ``expr`` strictly after ``moment``, in UTC."""
    instants = CronSim(expand(expr), moment.astimezone(tz))
    while True:
        # Past a repeated hour's first pass, cronsim may name that first pass again: skip it.
        found = next(instants).astimezone(UTC)
        if found > moment:
            return found


def back_from(expr: str, moment: datetime, tz: tzinfo) -> Iterator[datetime]:
    """Yield the instants named by ``expr`` at or before ``moment``, latest first, in UTC."""
    # cronsim's reverse iteration starts strictly before a whole second: nudge past ``moment``.
    instants = CronSim(expand(expr), (moment + timedelta(microseconds=1)).astimezone(tz), reverse=True)
    previous = None
    for instant in instants:
        found = instant.astimezone(UTC)
        if found > moment or found == previous:
            continue  # a repeated or skipped hour can map two wall-clock times to one instant
        previous = found
        yield found
