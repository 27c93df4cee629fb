"""Django system checks for schedules and retention: bad settings fail at start-up, named."""

from typing import Any

from django.core import checks

from .registry import declared, problems
from .retention import read_retention


@checks.register()
def check_schedules(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report every schedule that could not run as declared."""
    found = declared()
    messages: list[checks.CheckMessage] = [
        checks.Error(message, id="backroom.E101", obj=f"schedule {name!r}")
        for name, message in found.unreadable
    ]
    for schedule in found.schedules:
        messages += [
            checks.Error(message, id="backroom.E102", obj=f"schedule {schedule.name!r}")
            for message in problems(schedule)
        ]
    return messages


@checks.register()
def check_retention(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report retention settings that pruning cannot use."""
    _, errors = read_retention()
    return [checks.Error(message, id="backroom.E103", obj="BACKROOM") for message in errors]
