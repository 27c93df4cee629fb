"""Where schedules come from, and what is wrong with them.

Three declared sources, later ones winning by name: backroom's maintenance
schedule, ``schedule(...)`` calls in code (the ``tasks`` modules of installed
apps are imported to find them), and ``settings.BACKROOM["SCHEDULES"]``, where
a name mapped to None removes a schedule. The fourth source, the database
(``stored``), never takes a declared name. Every source is checked here.
"""

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils.module_loading import autodiscover_modules

from ..backends.stores import is_backroom
from ..compat import DEFAULT_TASK_BACKEND_ALIAS, InvalidTask, Task
from ..conf import backroom_setting
from ..exceptions import UnknownTask
from ..jobs.json import dumps
from ..task import load_task
from .cron import InvalidCron, expand
from .declaration import Missed, Schedule, Source

SETTING = "SCHEDULES"
#: The longest schedule name the schedule-run table holds.
MAX_NAME_LENGTH = 200
#: backroom's own schedule, on the default backend when it is a backroom backend.
MAINTENANCE = Schedule(
    name="backroom.prune",
    task="backroom.scheduler.maintenance.prune_finished_jobs",
    cron="0 * * * *",
    timezone="UTC",
    origin="backroom's maintenance schedule",
    source=Source.BACKROOM,
)
# Keys of a BACKROOM["SCHEDULES"] entry: Schedule's fields, minus the ones set from elsewhere.
_SETTING_KEYS = frozenset(Schedule.__dataclass_fields__) - {"name", "origin", "source"}

# schedule(...) calls, by name; a second declaration under one name is kept for the checks.
_in_code: dict[str, Schedule] = {}
_clashes: list[Schedule] = []


@dataclass(frozen=True, slots=True)
class Declared:
    """Every schedule in force, and the declarations too broken to read (name, message)."""

    schedules: list[Schedule]
    unreadable: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Fault:
    """One thing wrong with a schedule: the field it concerns (None: no single one), and why."""

    field: str | None
    message: str


def _as_interval(value: Any) -> Any:
    """Seconds as a number become a timedelta; anything else is left for the checks to judge."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


def schedule(
    task: Task | None = None,
    /,
    *,
    name: str | None = None,
    cron: str | None = None,
    interval: float | timedelta | None = None,
    timezone: str | None = None,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    queue_name: str | None = None,
    priority: int | None = None,
    backend: str | None = None,
    missed: str = Missed.LATEST,
    missed_limit: int = 100,
) -> Any:
    """Declare that ``task`` runs on a schedule, so that workers enqueue it at each slot.

    Call it as ``schedule(task, cron=...)`` or put ``@schedule(...)`` above
    ``@task``. The name defaults to the task's path; give one when a task has
    several schedules.
    """

    def declare(target: Any) -> Any:
        path = getattr(target, "module_path", None) or f"{target.__module__}.{target.__qualname__}"
        declared = Schedule(
            name=name or path, task=path, cron=cron, interval=_as_interval(interval),
            timezone=timezone, args=tuple(args), kwargs=dict(kwargs or {}), queue_name=queue_name,
            priority=priority, backend=backend, missed=missed, missed_limit=missed_limit,
            origin=f"schedule({name or path!r}) in {path.rpartition('.')[0]}",
        )  # fmt: skip
        if declared.name in _in_code and _in_code[declared.name] != declared:
            _clashes.append(declared)
        _in_code[declared.name] = declared
        return target

    return declare if task is None else declare(task)


def _from_setting(name: str, entry: Any) -> Schedule | str:
    """Build the schedule a settings entry describes, or say why it cannot be read."""
    if not isinstance(entry, Mapping):
        return f"must be a dict (or None to remove the schedule), not {type(entry).__name__}."
    unknown = sorted(set(entry) - _SETTING_KEYS)
    if unknown:
        return (
            f"has unknown key(s) {', '.join(map(repr, unknown))} (known: {', '.join(sorted(_SETTING_KEYS))})."
        )
    values = dict(entry)
    if "interval" in values:
        values["interval"] = _as_interval(values["interval"])
    return Schedule(name=name, origin=f'BACKROOM["{SETTING}"][{name!r}]', source=Source.SETTINGS, **values)


def _has_maintenance() -> bool:
    """Whether the default backend is a backroom one, whose finished jobs need pruning."""
    return is_backroom(DEFAULT_TASK_BACKEND_ALIAS)


def declared() -> Declared:
    """Collect the schedules in force from backroom, code and settings."""
    autodiscover_modules("tasks")
    found: dict[str, Schedule] = {MAINTENANCE.name: MAINTENANCE} if _has_maintenance() else {}
    found.update(_in_code)
    unreadable = [(s.name, f"{s.origin}: a second schedule() under this name.") for s in _clashes]
    entries = backroom_setting(SETTING, {})
    if not isinstance(entries, Mapping):
        unreadable.append(("", f'BACKROOM["{SETTING}"] must be a dict of name -> schedule.'))
        entries = {}
    for name, entry in entries.items():
        if entry is None:
            found.pop(name, None)
            continue
        built = _from_setting(name, entry)
        if isinstance(built, str):
            unreadable.append((name, f'BACKROOM["{SETTING}"][{name!r}] {built}'))
            found.pop(name, None)
        else:
            found[name] = built
    return Declared(schedules=list(found.values()), unreadable=unreadable)


def zone(schedule: Schedule) -> ZoneInfo:
    """Return the timezone the schedule's cron expression reads the clock in."""
    return ZoneInfo(schedule.timezone or settings.TIME_ZONE or "UTC")


def resolve(schedule: Schedule) -> Task:
    """Return the task to enqueue, with the schedule's queue, priority and backend applied."""
    task = load_task(schedule.task)
    changes = {"queue_name": schedule.queue_name, "priority": schedule.priority, "backend": schedule.backend}
    changes = {key: value for key, value in changes.items() if value is not None}
    return task.using(**changes) if changes else task  # type: ignore[arg-type]


def problems(schedule: Schedule) -> list[str]:
    """Say what is wrong with a schedule, one message per problem, each naming it and its origin."""
    return [f"{schedule.origin}: {fault.message}" for fault in faults(schedule)]


def faults(schedule: Schedule) -> list[Fault]:
    """Say what is wrong with a schedule, one fault per problem, for a form to show by its field."""
    found = [fault for check in _CHECKS if (fault := check(schedule))]
    if found:
        return found  # the task is only looked at once the rest holds
    return _task_faults(schedule)


def _check_name(s: Schedule) -> Fault | None:
    if isinstance(s.name, str) and 0 < len(s.name) <= MAX_NAME_LENGTH:
        return None
    return Fault("name", f"the name must be a string of 1 to {MAX_NAME_LENGTH} characters.")


def _check_when(s: Schedule) -> Fault | None:
    if (s.cron is None) == (s.interval is None):
        return Fault(None, "give exactly one of 'cron' and 'interval'.")
    if s.cron is not None:
        try:
            expand(s.cron)
        except InvalidCron as exc:
            return Fault("cron", f"'cron': {exc}.")
        return None
    if not isinstance(s.interval, timedelta) or s.interval < timedelta(seconds=1):
        return Fault(
            "interval",
            f"'interval' must be at least 1 second (a number of seconds or a timedelta), not {s.interval!r}.",
        )
    return None


def _check_timezone(s: Schedule) -> Fault | None:
    if s.timezone is None:
        return None
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return Fault(
            "timezone",
            f"'timezone' must be an IANA timezone name such as 'Europe/Paris', not {s.timezone!r}.",
        )
    return None


def _check_missed(s: Schedule) -> Fault | None:
    if s.missed not in set(Missed):
        choices = ", ".join(repr(m.value) for m in Missed)
        return Fault("missed", f"'missed' must be one of {choices}, not {s.missed!r}.")
    if isinstance(s.missed_limit, bool) or not isinstance(s.missed_limit, int) or s.missed_limit < 1:
        return Fault(
            "missed_limit", f"'missed_limit' must be a whole number of at least 1, not {s.missed_limit!r}."
        )
    return None


def _check_arguments(s: Schedule) -> Fault | None:
    if not isinstance(s.args, (list, tuple)):
        return Fault("args", "'args' must be a list and 'kwargs' a dict.")
    if not isinstance(s.kwargs, Mapping):
        return Fault("kwargs", "'args' must be a list and 'kwargs' a dict.")
    try:
        dumps([list(s.args), dict(s.kwargs)])
    except (TypeError, ValueError) as exc:
        return Fault(None, f"'args' and 'kwargs' must be JSON values: {exc}.")
    return None


def _check_backend(s: Schedule) -> Fault | None:
    if s.backend is None:
        return None
    if s.backend not in getattr(settings, "TASKS", {}):
        return Fault("backend", f"'backend' names {s.backend!r}, which is not in TASKS.")
    return None


_CHECKS: list[Callable[[Schedule], Fault | None]] = [
    _check_name, _check_when, _check_timezone, _check_missed, _check_arguments, _check_backend,
]  # fmt: skip


def _task_faults(s: Schedule) -> list[Fault]:
    try:
        task = resolve(s)
    except UnknownTask as exc:
        return [Fault("task", f"'task': {exc}")]
    except InvalidTask as exc:
        return [Fault(None, f"{exc}")]
    if not is_backroom(task.backend):
        return [
            Fault(
                None,
                f"the task's backend {task.backend!r} is not a backroom backend; no scheduler would run it.",
            )
        ]
    leading = [None] if task.takes_context else []
    try:
        inspect.signature(task.func).bind(*leading, *s.args, **s.kwargs)
    except TypeError as exc:
        return [Fault(None, f"'args' and 'kwargs' do not fit the task {s.task}: {exc}.")]
    return []
