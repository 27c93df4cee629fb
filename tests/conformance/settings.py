"""Settings of the conformance suite's worker processes: the test settings, plus the
signal recorder (an app) and Django's own task log lines."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, LOGGING

INSTALLED_APPS = [*INSTALLED_APPS, "tests.conformance"]

# Django's task log lines: "django.tasks" on Django 6, "django_tasks" from the backport on Django 5.2.
_TASK_LOG = {"handlers": ["stderr"], "level": "DEBUG"}
LOGGING = {**LOGGING, "loggers": {**LOGGING["loggers"], "django.tasks": _TASK_LOG, "django_tasks": _TASK_LOG}}
