"""Celery beat and Django-Q2 schedules turned into database schedules (``backroom import-schedules``).

Neither Celery nor django_q is needed. ``settings.CELERY_BEAT_SCHEDULE`` is
read as data: a ``crontab`` by the attributes Celery keeps of what it was
given (``_orig_minute``...), a ``schedule`` by its ``run_every``, numbers as
seconds, and a dict of crontab fields like a crontab. Django-Q2's schedules are
read from its table with one SELECT. Each becomes what ``ScheduleForm``
accepts, or says why it cannot: nothing is converted into something that runs
differently.
"""

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.dateparse import parse_datetime

from ..brokers.database.connection import Database
from ..models import StoredSchedule
from .form import ScheduleForm
from .stored import as_schedule, store_errors

SETTING = "CELERY_BEAT_SCHEDULE"
DJANGO_Q_TABLE = "django_q_schedule"
#: Celery's crontab fields, in the order of a cron expression's.
CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
_CELERY_KEYS = {"task", "schedule", "args", "kwargs", "options", "relative"}
#: What a new database schedule gets unless the source says otherwise.
_DEFAULTS = {"missed": "latest", "missed_limit": 100, "enabled": True}


class Unconvertible(ValueError):
    """Why a schedule found elsewhere has no database schedule that runs as it did."""


class Outcome(StrEnum):
    CREATED = "created"
    WOULD_CREATE = "would be created"
    EXISTS = "exists"
    NOT_CONVERTED = "not converted"


@dataclass(frozen=True, slots=True)
class Found:
    """A schedule found elsewhere: where (for messages), and the database schedule it makes, or why none."""

    origin: str
    values: dict[str, Any] | None  # ScheduleForm's data
    reason: str = ""


def celery_schedules() -> list[Found]:
    """Read ``settings.CELERY_BEAT_SCHEDULE``; an absent setting has nothing."""
    entries = getattr(settings, SETTING, None) or {}
    if not isinstance(entries, Mapping):
        return [Found(SETTING, None, "must be a dict of name -> entry")]
    return [_found(f"{SETTING}[{name!r}]", name, _from_celery, entry) for name, entry in entries.items()]


def _found(origin: str, name: str, convert: Callable[[Any], dict[str, Any]], entry: Any) -> Found:
    """One entry converted into a schedule's fields, or the reason it cannot be."""
    try:
        return Found(origin, {**_DEFAULTS, "name": name, **convert(entry)})
    except Unconvertible as exc:
        return Found(origin, None, str(exc))


def _from_celery(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise Unconvertible(f"an entry is a dict with 'task' and 'schedule', not {type(entry).__name__}")
    if unknown := sorted(set(entry) - _CELERY_KEYS):
        raise Unconvertible(f"unsupported key(s) {', '.join(map(repr, unknown))}")
    if entry.get("relative"):
        raise Unconvertible("'relative': backroom's intervals fall on fixed instants (aligned on the epoch)")
    options = dict(entry.get("options") or {})
    queue = options.pop("queue", None) or ""
    if options:
        raise Unconvertible(
            f"unsupported option(s) {', '.join(map(repr, sorted(options)))}: only 'queue' has an equivalent"
        )
    args = entry.get("args") or []
    return {
        "task": entry.get("task"),
        "args": list(args) if isinstance(args, tuple) else args,
        "kwargs": entry.get("kwargs") or {},
        "queue_name": queue,
        **_celery_when(entry.get("schedule")),
    }


def _celery_when(schedule: Any) -> dict[str, Any]:
    """The cron (with Celery's timezone) or interval of a beat entry's ``schedule``."""
    if isinstance(schedule, (int, float)) and not isinstance(schedule, bool):
        return {"interval": timedelta(seconds=schedule)}
    if isinstance(schedule, timedelta):
        return {"interval": schedule}
    if isinstance(getattr(schedule, "run_every", None), timedelta):  # celery.schedules.schedule
        if getattr(schedule, "relative", False):
            raise Unconvertible(
                "'relative': backroom's intervals fall on fixed instants (aligned on the epoch)"
            )
        return {"interval": schedule.run_every}
    if hasattr(schedule, "_orig_minute"):  # celery.schedules.crontab
        fields = {name: getattr(schedule, f"_orig_{name}") for name in CRONTAB_FIELDS}
    elif isinstance(schedule, Mapping):
        if unknown := sorted(set(schedule) - set(CRONTAB_FIELDS)):
            raise Unconvertible(f"a crontab dict has no key(s) {', '.join(map(repr, unknown))}")
        fields = {name: schedule.get(name, "*") for name in CRONTAB_FIELDS}
    elif hasattr(schedule, "event") and hasattr(schedule, "lat"):  # celery.schedules.solar
        raise Unconvertible("solar schedules (sunrise, sunset...) have no cron equivalent")
    else:
        raise Unconvertible(f"a schedule of type {type(schedule).__name__} has no equivalent")
    cron = {name: _cron_field(value) for name, value in fields.items()}
    if cron["day_of_month"] != "*" and cron["day_of_week"] != "*":
        raise Unconvertible(
            "both day_of_month and day_of_week are set: Celery runs when both match, cron when either does"
        )
    # Celery reads day names by their first three letters ("monday"); cron knows only those.
    cron["day_of_week"] = re.sub(r"[A-Za-z]+", lambda m: m.group()[:3], cron["day_of_week"])
    timezone = getattr(settings, "CELERY_TIMEZONE", None) or "UTC"  # Celery's default
    return {"cron": " ".join(cron[name] for name in CRONTAB_FIELDS), "timezone": timezone}


def _cron_field(value: Any) -> str:
    """A crontab argument (a number, a string, or a collection of numbers) as a cron field."""
    if isinstance(value, (str, int)):
        return str(value).replace(" ", "")
    return ",".join(str(item) for item in sorted(value))


def django_q_schedules(using: str = DEFAULT_DB_ALIAS) -> list[Found]:
    """Read Django-Q2's schedules from its table, when the database ``using`` has it."""
    connection = connections[using]
    with Database(using).errors(f"read Django-Q2's {DJANGO_Q_TABLE} table"):
        if DJANGO_Q_TABLE not in connection.introspection.table_names():
            return []
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(DJANGO_Q_TABLE)} ORDER BY id")
            columns = [column[0] for column in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    found = []
    for row in rows:
        name = row.get("name") or f"django-q-{row['id']}"
        found.append(_found(f"{DJANGO_Q_TABLE} {name!r} (id {row['id']})", name, _from_django_q, row))
    return found


#: Django-Q2's schedule types whose runs keep the time of day, week, month or year of ``next_run``.
_CALENDAR = {"H": "hourly", "D": "daily", "W": "weekly", "M": "monthly", "Q": "quarterly", "Y": "yearly"}


def _from_django_q(row: dict[str, Any]) -> dict[str, Any]:
    for option in ("hook", "timeout_hook", "failure_hook", "cluster", "intended_date_kwarg"):
        if row.get(option):
            raise Unconvertible(f"unsupported option {option!r} ({row[option]!r})")
    repeats = row.get("repeats", -1)
    if repeats == 0:
        raise Unconvertible("it has no runs left (repeats 0)")
    if repeats > 0:
        raise Unconvertible(
            f"it runs {repeats} more time(s); a backroom schedule runs until paused or deleted"
        )
    args, kwargs = _django_q_arguments(row.get("args"), row.get("kwargs"))
    kind = row["schedule_type"]
    if kind == "O":
        raise Unconvertible("it runs once: enqueue the task with run_after instead")
    call = {"task": row["func"], "args": args, "kwargs": kwargs}
    if kind == "I":  # Django-Q2 reads a blank number of minutes as 1
        return {**call, "interval": timedelta(minutes=row["minutes"] or 1)}
    if kind == "C":  # Django-Q2 reads cron on TIME_ZONE's clock, as a blank timezone does
        return {**call, "cron": row["cron"] or ""}
    if kind not in _CALENDAR:
        raise Unconvertible(f"schedule type {kind!r} has no cron equivalent")
    return {**call, "cron": _calendar_cron(kind, row["next_run"]), "timezone": "UTC"}


def _calendar_cron(kind: str, next_run: Any) -> str:
    """Django-Q2 adds an hour, a day... to ``next_run`` in UTC: the cron expression of those instants."""
    moment = parse_datetime(next_run) if isinstance(next_run, str) else next_run
    if moment is None:
        raise Unconvertible(f"a {_CALENDAR[kind]} schedule without a next run has no time to keep")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if kind in "MQY" and moment.day > 28:
        raise Unconvertible(
            f"it runs on day {moment.day}, which Django-Q2 moves to an earlier day in shorter months"
        )
    quarters = ",".join(str(month) for month in sorted((moment.month - 1 + 3 * i) % 12 + 1 for i in range(4)))
    day, month, weekday = {
        "H": ("*", "*", "*"),
        "D": ("*", "*", "*"),
        "W": ("*", "*", moment.isoweekday() % 7),
        "M": (moment.day, "*", "*"),
        "Q": (moment.day, quarters, "*"),
        "Y": (moment.day, moment.month, "*"),
    }[kind]
    hour = "*" if kind == "H" else moment.hour
    return f"{moment.minute} {hour} {day} {month} {weekday}"


def _django_q_arguments(args: str | None, kwargs: str | None) -> tuple[list[Any], dict[str, Any]]:
    """Read arguments as Django-Q2 does: Python literals, ``"1, 'a'"`` and ``"a=1, b=2"`` forms included."""
    try:
        found_args = ast.literal_eval(args) if args else ()
        found_kwargs = _django_q_kwargs(kwargs) if kwargs else {}
    except (SyntaxError, ValueError) as exc:
        raise Unconvertible(f"its arguments are not Python literals: {exc}") from exc
    if not isinstance(found_kwargs, dict):
        raise Unconvertible(f"its kwargs are not a dict: {kwargs!r}")
    if "q_options" in found_kwargs:
        raise Unconvertible("unsupported kwargs 'q_options'")
    return list(found_args) if isinstance(found_args, tuple) else [found_args], found_kwargs


def _django_q_kwargs(text: str) -> Any:
    """A dict literal, or keyword arguments as in a call."""
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError):
        call = ast.parse(f"f({text})", mode="eval").body
        if not isinstance(call, ast.Call) or call.args:
            raise ValueError(f"{text!r} is neither a dict nor keyword arguments") from None
        return {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}


def save(found: Found, *, dry_run: bool = False) -> tuple[Outcome, str]:
    """Create the database schedule ``found`` describes, unless one has its name; say what happened."""
    if found.values is None:
        return Outcome.NOT_CONVERTED, found.reason
    with store_errors("save a database schedule"):
        if StoredSchedule.objects.filter(name=found.values["name"]).exists():
            return Outcome.EXISTS, ""
        form = ScheduleForm(data=found.values)
        if not form.is_valid():
            why = "; ".join(str(message) for messages in form.errors.values() for message in messages)
            return Outcome.NOT_CONVERTED, why
        schedule = as_schedule(form.save(commit=not dry_run))
    detail = f"{schedule.name!r}: {schedule.task}, {schedule.every}"
    if schedule.cron is not None:
        detail += f" ({schedule.timezone or settings.TIME_ZONE})"
    return (Outcome.WOULD_CREATE if dry_run else Outcome.CREATED), detail
