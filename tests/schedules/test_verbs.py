"""``manage.py backroom schedules``, start-up checks, and the worker's scheduler switch."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from backroom.compat import task_backends
from backroom.models import StoredSchedule
from tests import tasks
from tests.support import ROOT, job_count, schedule_runs, subprocess_env


def backroom(*args: str, **options) -> str:
    out = StringIO()
    call_command("backroom", *args, stdout=out, **options)
    return out.getvalue()


def test_schedules_lists_last_and_next_run(store, settings):
    settings.BACKROOM = {
        "SCHEDULES": {
            "nightly": {
                "task": "tests.tasks.noop",
                "cron": "0 3 * * *",
                "timezone": "Europe/Paris",
                "backend": store,
            },
            "often": {"task": "tests.tasks.noop", "interval": 300, "backend": store, "missed": "all"},
        }
    }
    backend = task_backends[store]
    last_night = timezone.now().replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(days=1)
    job = backend.jobs.new_job(tasks.noop.using(backend=store), (), {})
    backend.store.broker.enqueue_slot(job, "nightly", last_night)
    lines = backroom("schedules").splitlines()
    assert lines[0].split() == [
        "NAME",
        "SOURCE",
        "TASK",
        "WHEN",
        "MISSED",
        "QUEUE",
        "BACKEND",
        "LAST",
        "RUN",
        "NEXT",
        "RUN",
    ]
    nightly = next(line for line in lines if line.startswith("nightly"))
    assert "cron 0 3 * * * (Europe/Paris)" in nightly
    # The last run on the Paris clock, and its job's status (not run yet).
    assert f"{last_night.astimezone(ZoneInfo('Europe/Paris')):%Y-%m-%d %H:%M %Z} (ready)" in nightly
    assert " 03:00 CE" in nightly  # next run, on the Paris clock (CET or CEST)
    often = next(line for line in lines if line.startswith("often"))
    assert "every 300s" in often and " never " in often and " all " in often


def test_schedules_lists_database_schedules_with_their_source(store, settings):
    settings.BACKROOM = {
        "SCHEDULES": {"backroom.prune": None, "taken": {"task": "tests.tasks.noop", "interval": 60}}
    }
    common = {"task": "tests.tasks.noop", "backend": store}
    StoredSchedule.objects.create(name="hourly", cron="0 * * * *", timezone="UTC", **common)
    StoredSchedule.objects.create(name="paused", interval=timedelta(minutes=5), enabled=False, **common)
    StoredSchedule.objects.create(name="taken", interval=timedelta(minutes=5), **common)
    lines = backroom("schedules").splitlines()
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["hourly"].split()[1] == "database" and "cron 0 * * * * (UTC)" in rows["hourly"]
    assert "database (paused)" in rows["paused"] and rows["paused"].endswith(" paused")
    # A declared schedule and a database row under one name: the declaration runs, the row says why not.
    declared, shadowed = [line for line in lines if line.startswith("taken ")]
    assert declared.split()[1] == "settings" and "every 60s" in declared
    assert shadowed.split()[1] == "database" and "INVALID" in shadowed and "is the name of" in shadowed


@pytest.mark.django_db
def test_schedules_says_when_there_are_none(settings):
    settings.BACKROOM = {"SCHEDULES": {"backroom.prune": None}}
    assert backroom("schedules").strip() == "No schedules."


@pytest.mark.django_db
def test_backroom_command_checks_schedules_at_start_up(settings):
    settings.BACKROOM = {"SCHEDULES": {"digest": {"task": "tests.tasks.noop", "cron": "0 9 * * FUNDAY"}}}
    named = r"(?s)schedule 'digest'.*BACKROOM\[\"SCHEDULES\"\]\['digest'\].*Bad day-of-week"
    with pytest.raises(SystemCheckError, match=named):
        backroom("schedules", skip_checks=False)


@pytest.mark.parametrize("scheduler", [True, False], ids=["scheduler", "no-scheduler"])
def test_worker_runs_the_scheduler_unless_told_not_to(store, worker_process, scheduler):
    name = f"every-second-{store}"
    backend = task_backends[store]
    # A slot ten seconds ago: a scheduler starting now catches up on the ten since.
    seed = backend.jobs.new_job(tasks.noop.using(backend=store), (), {})
    backend.store.broker.enqueue_slot(
        seed, name, timezone.now().replace(microsecond=0) - timedelta(seconds=10)
    )
    flags = [] if scheduler else ["--no-scheduler"]
    worker = worker_process(
        "--backend", store, "--max-jobs", "1", *flags, DJANGO_SETTINGS_MODULE="tests.schedules.e2e_settings"
    )
    assert worker.wait(60) == 0, worker.output()
    slots = len(schedule_runs(store))
    if scheduler:
        assert slots >= 10
    else:
        assert slots == 1
    assert job_count(store) == slots


@pytest.mark.django_db(transaction=True)
def test_sample_project_lists_its_schedules():
    """A real ``manage.py backroom schedules`` run, system checks included, in a sample project."""
    result = subprocess.run(
        [sys.executable, "-m", "django", "backroom", "schedules"],
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="tests.schedules.sample_settings"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert names == ["backroom.prune", "clear-sessions", "refresh-cache", "weekly-digest"]
    digest = next(line for line in result.stdout.splitlines() if line.startswith("weekly-digest"))
    assert "cron 0 9 * * MON (America/New_York)" in digest and "emails" in digest and " skip " in digest
