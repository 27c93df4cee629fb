"""``manage.py backroom worker`` logs one line per job, not Django's started/finished lines beside it."""

import logging

import pytest
from django.core.management import call_command

from backroom.compat import TASKS_LOGGER
from tests import tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def records(caplog):
    """What the worker verb logs at INFO and above, Django's tasks logger untouched as in a fresh process."""
    django_tasks = logging.getLogger(TASKS_LOGGER)
    level = django_tasks.level
    django_tasks.setLevel(logging.NOTSET)  # another test's in-process worker may have raised it
    caplog.set_level(logging.INFO)

    def about(job_id: str) -> list[tuple[str, int, bool]]:
        """The logger, level and whether a traceback came with it, of each record naming the job."""
        return [
            (r.name, r.levelno, r.exc_info is not None) for r in caplog.records if job_id in r.getMessage()
        ]

    yield about
    django_tasks.setLevel(level)


def test_a_job_is_one_line(records):
    result = tasks.noop.enqueue()
    call_command("backroom", "worker", "--burst")
    assert records(result.id) == [("backroom.worker.execution", logging.INFO, False)]


def test_a_failed_job_keeps_djangos_error_with_its_traceback(records):
    result = tasks.always_fail.enqueue("boom")
    call_command("backroom", "worker", "--burst")
    assert records(result.id) == [
        ("backroom.worker.execution", logging.ERROR, False),
        (TASKS_LOGGER, logging.ERROR, True),
    ]


def test_djangos_lines_stay_when_logging_names_its_logger(records, settings):
    settings.LOGGING = {**settings.LOGGING, "loggers": {**settings.LOGGING["loggers"], TASKS_LOGGER: {}}}
    result = tasks.noop.enqueue()
    call_command("backroom", "worker", "--burst")
    assert records(result.id) == [
        (TASKS_LOGGER, logging.INFO, False),  # started
        ("backroom.worker.execution", logging.INFO, False),
        (TASKS_LOGGER, logging.INFO, False),  # finished
    ]
