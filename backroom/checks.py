"""Django system checks for the project-wide settings people-facing parts read from ``settings.BACKROOM``."""

from typing import Any

from django.core import checks

from .redaction import redact_problem
from .status.config import read_status_settings


@checks.register()
def check_redaction(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report a BACKROOM["REDACT"] that cannot be used: every page showing a job would fail."""
    problem = redact_problem()
    return [] if problem is None else [checks.Error(problem, id="backroom.E201", obj="BACKROOM")]


@checks.register()
def check_status_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report status endpoint settings that fell back to their defaults."""
    _, errors = read_status_settings()
    return [checks.Error(message, id="backroom.E202", obj="BACKROOM") for message in errors]
