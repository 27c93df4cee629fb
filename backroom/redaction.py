"""What people are shown of a job: ``BACKROOM["REDACT"]`` hides what they should not see.

The dashboard, the admin and the status endpoint pass every job they show
through ``redact(job)``; workers and backends never do, so redaction changes
what is displayed, never what runs. A redactor is a function ``(job:
JobRecord) -> Mapping[str, Any]`` returning the fields to show instead, any
of ``REDACTABLE``; a field it leaves out is shown as stored.
"""

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .conf import backroom_setting
from .jobs.records import ErrorRecord, JobRecord

SETTING = "REDACT"
#: The fields a redactor may replace, and what each must hold.
REDACTABLE: dict[str, Callable[[Any], bool]] = {
    "args": lambda value: isinstance(value, list),
    "kwargs": lambda value: isinstance(value, dict),
    "return_value": lambda value: True,
    "progress": lambda value: True,
    "errors": lambda value: isinstance(value, list) and all(isinstance(e, ErrorRecord) for e in value),
    "unique_key": lambda value: value is None or isinstance(value, str),
}

Redactor = Callable[[JobRecord], Mapping[str, Any]]


def redactor() -> Redactor | None:
    """The configured redactor, or None when everything is shown; ImproperlyConfigured says what is wrong."""
    configured = backroom_setting(SETTING, None)
    if configured is None:
        return None
    if isinstance(configured, str):
        try:
            configured = import_string(configured)
        except ImportError as exc:
            raise ImproperlyConfigured(f"BACKROOM['REDACT'] cannot be imported: {exc}") from exc
    if not callable(configured):
        raise ImproperlyConfigured(
            f"BACKROOM['REDACT'] must be a function (or its dotted path), not {configured!r}."
        )
    return configured  # type: ignore[no-any-return]


def redact_problem() -> str | None:
    """What is wrong with the REDACT setting, for the system checks; None when it is usable."""
    try:
        redactor()
    except ImproperlyConfigured as exc:
        return str(exc)
    return None


def redact(job: JobRecord) -> JobRecord:
    """The job as people may see it: the redactor's replacements applied.

    A redactor that fails raises rather than letting the job be shown whole.
    """
    replace_fields = redactor()
    if replace_fields is None:
        return job
    changes = replace_fields(job)
    if not isinstance(changes, Mapping):
        raise ImproperlyConfigured(
            "BACKROOM['REDACT'] must return a mapping of the fields to show instead, "
            f"not {type(changes).__name__}."
        )
    for name, value in changes.items():
        check = REDACTABLE.get(name)
        if check is None:
            raise ImproperlyConfigured(
                f"BACKROOM['REDACT'] returned {name!r}, which it may not replace "
                f"(it may replace: {', '.join(REDACTABLE)})."
            )
        if not check(value):
            raise ImproperlyConfigured(f"BACKROOM['REDACT'] returned {name}={value!r}, of the wrong type.")
    return job.evolve(**changes)
