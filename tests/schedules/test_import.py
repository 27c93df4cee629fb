"""``manage.py backroom import-schedules``: Celery beat's and Django-Q2's schedules, neither installed."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from backroom.models import StoredSchedule


class crontab:
    """Sample input: what Celery's crontab keeps of its arguments, under the same attribute names."""

    def __init__(self, minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*"):
        self._orig_minute = minute
        self._orig_hour = hour
        self._orig_day_of_week = day_of_week
        self._orig_day_of_month = day_of_month
        self._orig_month_of_year = month_of_year


class solar:
    def __init__(self, event, lat, lon):
        self.event, self.lat, self.lon = event, lat, lon


BEAT = {
    "weekday-mornings": {
        "task": "tests.tasks.record",
        "schedule": crontab(minute=30, hour=7, day_of_week="monday-friday"),
        "args": ("mornings",),
        "options": {"queue": "emails"},
    },
    "quarter-hours": {"task": "tests.tasks.noop", "schedule": crontab(minute="*/15")},
    "on-the-1st-and-15th": {"task": "tests.tasks.noop", "schedule": crontab(0, 0, day_of_month=[15, 1])},
    "every-10-minutes": {"task": "tests.tasks.add", "schedule": timedelta(minutes=10), "args": (1, 2)},
    "every-30-seconds": {"task": "tests.tasks.add", "schedule": 30.0, "kwargs": {"a": 1, "b": 2}},
    "as-a-dict": {"task": "tests.tasks.noop", "schedule": {"minute": "0", "hour": "4"}},
    "expiring": {"task": "tests.tasks.noop", "schedule": 60, "options": {"expires": 30}},
    "not-ours": {"task": "myproject.tasks.cleanup", "schedule": 60},
    "at-dawn": {"task": "tests.tasks.noop", "schedule": solar("dawn_civil", 48.85, 2.35)},
    "fridays-the-13th": {
        "task": "tests.tasks.noop",
        "schedule": crontab(0, 0, day_of_week=5, day_of_month=13),
    },
    "relative": {"task": "tests.tasks.noop", "schedule": 60, "relative": True},
}


def import_schedules(*args: str) -> list[str]:
    out = StringIO()
    call_command("backroom", "import-schedules", *args, stdout=out)
    return out.getvalue().splitlines()


def line_of(lines: list[str], origin: str) -> str:
    return next(line for line in lines if line.startswith(origin + ":"))


@pytest.fixture(autouse=True)
def no_declared_schedules(settings):
    settings.BACKROOM = {"SCHEDULES": {"backroom.prune": None}}


@pytest.mark.django_db
def test_celery_beat_schedule_becomes_database_schedules(settings):
    settings.CELERY_BEAT_SCHEDULE = BEAT
    settings.CELERY_TIMEZONE = "Europe/Paris"
    lines = import_schedules()
    rows = {row.name: row for row in StoredSchedule.objects.all()}
    assert sorted(rows) == [
        "as-a-dict", "every-10-minutes", "every-30-seconds", "on-the-1st-and-15th", "quarter-hours",
        "weekday-mornings",
    ]  # fmt: skip
    mornings = rows["weekday-mornings"]
    assert (mornings.cron, mornings.timezone, mornings.args, mornings.queue_name) == (
        "30 7 * * mon-fri", "Europe/Paris", ["mornings"], "emails",
    )  # fmt: skip
    assert rows["quarter-hours"].cron == "*/15 * * * *"
    assert rows["on-the-1st-and-15th"].cron == "0 0 1,15 * *"
    assert (rows["every-10-minutes"].interval, rows["every-10-minutes"].args) == (
        timedelta(minutes=10),
        [1, 2],
    )
    assert (rows["every-30-seconds"].interval, rows["every-30-seconds"].kwargs) == (
        timedelta(seconds=30), {"a": 1, "b": 2},
    )  # fmt: skip
    assert rows["as-a-dict"].cron == "0 4 * * *"

    created = line_of(lines, "CELERY_BEAT_SCHEDULE['weekday-mornings']")
    assert created.endswith(
        "created: 'weekday-mornings': tests.tasks.record, cron 30 7 * * mon-fri (Europe/Paris)"
    )
    why = {
        "expiring": "unsupported option(s) 'expires'",
        "not-ours": "'task': Task 'myproject.tasks.cleanup' cannot be imported",
        "at-dawn": "solar schedules",
        "fridays-the-13th": "Celery runs when both match, cron when either does",
        "relative": "'relative'",
    }
    for name, reason in why.items():
        line = line_of(lines, f"CELERY_BEAT_SCHEDULE[{name!r}]")
        assert ": not converted: " in line and reason in line, line
    assert lines[-1] == "6 created, 5 not converted."


@pytest.mark.django_db
def test_a_second_run_says_exists_and_a_dry_run_creates_nothing(settings):
    settings.CELERY_BEAT_SCHEDULE = {name: BEAT[name] for name in ("quarter-hours", "every-10-minutes")}
    dry = import_schedules("--dry-run")
    assert line_of(dry, "CELERY_BEAT_SCHEDULE['quarter-hours']").endswith(
        "would be created: 'quarter-hours': tests.tasks.noop, cron */15 * * * * (UTC)"
    )
    assert not StoredSchedule.objects.exists()
    assert import_schedules()[-1] == "2 created."
    edited = StoredSchedule.objects.get(name="quarter-hours")
    edited.cron = "0 * * * *"
    edited.save()
    again = import_schedules()
    assert line_of(again, "CELERY_BEAT_SCHEDULE['quarter-hours']").endswith(": exists")
    assert again[-1] == "2 exists."
    assert StoredSchedule.objects.count() == 2
    assert StoredSchedule.objects.get(name="quarter-hours").cron == "0 * * * *"  # an edit made since stays


@pytest.mark.django_db
def test_a_declared_name_is_not_taken(settings):
    settings.BACKROOM = {
        "SCHEDULES": {"backroom.prune": None, "quarter-hours": {"task": "tests.tasks.noop", "interval": 60}}
    }
    settings.CELERY_BEAT_SCHEDULE = {"quarter-hours": BEAT["quarter-hours"]}
    [line, summary] = import_schedules()
    assert "not converted: 'quarter-hours' is the name of BACKROOM[\"SCHEDULES\"]['quarter-hours']" in line
    assert summary == "1 not converted." and not StoredSchedule.objects.exists()


@pytest.mark.django_db
def test_nothing_to_import():
    assert import_schedules() == [
        "Nothing to import: no CELERY_BEAT_SCHEDULE in settings, no django_q_schedule table."
    ]


#: Django-Q2's schedule table, as its migrations create it on SQLite.
DJANGO_Q_TABLE = """
CREATE TABLE django_q_schedule (
    id integer NOT NULL PRIMARY KEY AUTOINCREMENT, name varchar(100) NULL UNIQUE, func varchar(256) NOT NULL,
    hook varchar(256) NULL, args text NULL, kwargs text NULL, schedule_type varchar(2) NOT NULL,
    minutes smallint unsigned NULL, repeats integer NOT NULL, next_run datetime NULL, cron varchar(100) NULL,
    task varchar(100) NULL, cluster varchar(100) NULL, intended_date_kwarg varchar(100) NULL
)"""
NEXT_RUN = datetime(2025, 6, 4, 6, 45, tzinfo=UTC)  # a Wednesday
DJANGO_Q_ROWS = [
    # name, func, hook, args, kwargs, schedule_type, minutes, repeats, cron, cluster
    ("every-5", "tests.tasks.add", None, "1, 2", None, "I", 5, -1, None, None),
    ("daily", "tests.tasks.record", None, "'daily'", "using='default'", "D", None, -1, None, None),
    ("weekly", "tests.tasks.noop", None, None, None, "W", None, -1, None, None),
    ("quarterly", "tests.tasks.noop", None, None, None, "Q", None, -1, None, None),
    ("by-cron", "tests.tasks.record", None, None, "{'label': 'cron'}", "C", None, -1, "0 22 * * 1-5", None),
    (None, "tests.tasks.noop", None, None, None, "H", None, -1, None, None),
    ("once", "tests.tasks.noop", None, None, None, "O", None, -1, None, None),
    ("hooked", "tests.tasks.noop", "myapp.hooks.report", None, None, "D", None, -1, None, None),
    ("three-more", "tests.tasks.noop", None, None, None, "D", None, 3, None, None),
    ("elsewhere", "tests.tasks.noop", None, None, None, "D", None, -1, None, "cluster-b"),
    ("not-a-task", "math.copysign", None, "2, -2", None, "D", None, -1, None, None),
]


@pytest.fixture
def django_q_table(db):
    with connection.cursor() as cursor:
        cursor.execute(DJANGO_Q_TABLE)
        for name, func, hook, args, kwargs, kind, minutes, repeats, cron, cluster in DJANGO_Q_ROWS:
            cursor.execute(
                "INSERT INTO django_q_schedule (name, func, hook, args, kwargs, schedule_type, minutes,"
                " repeats, next_run, cron, cluster) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [name, func, hook, args, kwargs, kind, minutes, repeats, NEXT_RUN, cron, cluster],
            )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE django_q_schedule")


def test_django_q_schedules_become_database_schedules(django_q_table):
    lines = import_schedules()
    rows = {row.name: row for row in StoredSchedule.objects.all()}
    assert sorted(rows) == ["by-cron", "daily", "django-q-6", "every-5", "quarterly", "weekly"]
    assert (rows["every-5"].interval, rows["every-5"].args) == (timedelta(minutes=5), [1, 2])
    assert (rows["daily"].cron, rows["daily"].timezone) == ("45 6 * * *", "UTC")
    assert (rows["daily"].args, rows["daily"].kwargs) == (["daily"], {"using": "default"})
    assert rows["weekly"].cron == "45 6 * * 3"
    assert rows["quarterly"].cron == "45 6 4 3,6,9,12 *"
    assert (rows["by-cron"].cron, rows["by-cron"].timezone, rows["by-cron"].kwargs) == (
        "0 22 * * 1-5", "", {"label": "cron"},
    )  # fmt: skip
    assert rows["django-q-6"].cron == "45 * * * *"
    why = {
        "once": "it runs once",
        "hooked": "unsupported option 'hook'",
        "three-more": "it runs 3 more time(s)",
        "elsewhere": "unsupported option 'cluster'",
        "not-a-task": "'math.copysign' is a builtin_function_or_method, not a Task",
    }
    for name, reason in why.items():
        line = next(line for line in lines if f" {name!r} " in line)
        assert ": not converted: " in line and reason in line, line
    assert lines[-1] == "6 created, 5 not converted."
    assert import_schedules()[-1] == "6 exists, 5 not converted."
