"""Declaring schedules in settings and in code; bad ones fail Django's system checks, named."""

import importlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from backroom.scheduler import Missed, Schedule, schedule
from backroom.scheduler.checks import check_retention, check_schedules
from backroom.scheduler.registry import MAINTENANCE, declared, problems, resolve, zone
from tests import tasks


def by_name() -> dict[str, Schedule]:
    return {s.name: s for s in declared().schedules}


def errors_for(settings, entry) -> list[str]:
    settings.BACKROOM = {"SCHEDULES": {"nightly": entry}}
    return [message.msg for message in check_schedules()]


def test_settings_schedule_is_read_with_every_option(settings):
    settings.BACKROOM = {
        "SCHEDULES": {
            "clear-sessions": {
                "task": "tests.tasks.record",
                "cron": "0 3 * * *",
                "timezone": "Europe/Paris",
                "args": ["cleared"],
                "kwargs": {"using": "default"},
                "queue_name": "maintenance",
                "priority": 10,
                "missed": "all",
                "missed_limit": 5,
            },
            "refresh": {"task": "tests.tasks.noop", "interval": 300},
        }
    }
    found = by_name()
    nightly = found["clear-sessions"]
    assert (nightly.task, nightly.cron, nightly.args, nightly.kwargs) == (
        "tests.tasks.record", "0 3 * * *", ["cleared"], {"using": "default"},
    )  # fmt: skip
    assert nightly.missed == Missed.ALL and nightly.missed_limit == 5
    assert zone(nightly).key == "Europe/Paris"
    task = resolve(nightly)
    assert (task.queue_name, task.priority, task.backend) == ("maintenance", 10, "default")
    assert found["refresh"].interval == timedelta(minutes=5)
    assert zone(found["refresh"]).key == settings.TIME_ZONE
    assert check_schedules() == []


def test_call_form_declares_a_schedule_in_code(settings):
    settings.BACKROOM = {}
    schedule(tasks.record, name="digest", cron="0 9 * * MON", kwargs={"label": "digest"})
    digest = by_name()["digest"]
    assert digest.task == "tests.tasks.record" and digest.cron == "0 9 * * MON"
    assert digest.origin == "schedule('digest') in tests.tasks"
    assert check_schedules() == []


def test_decorator_form_declares_a_schedule_named_after_the_task(settings):
    settings.BACKROOM = {}
    from tests.schedules import declared as module

    importlib.reload(module)  # the declaration runs at import
    declared_schedule = by_name()["tests.schedules.declared.refresh_cache"]
    assert declared_schedule.cron == "*/5 * * * *"
    assert resolve(declared_schedule).queue_name == "cache"
    assert module.refresh_cache.call() == "eu"  # the decorator hands the task back unchanged
    assert check_schedules() == []


def test_settings_override_and_remove_code_declarations(settings):
    schedule(tasks.noop, name="tick", interval=60)
    schedule(tasks.noop, name="gone", interval=60)
    settings.BACKROOM = {"SCHEDULES": {"tick": {"task": "tests.tasks.noop", "interval": 120}, "gone": None}}
    found = by_name()
    assert found["tick"].interval == timedelta(minutes=2)
    assert "gone" not in found


def test_maintenance_schedule_is_built_in_and_can_be_removed(settings):
    del settings.BACKROOM
    assert by_name()["backroom.prune"] == MAINTENANCE
    assert problems(MAINTENANCE) == []
    settings.BACKROOM = {"SCHEDULES": {"backroom.prune": None}}
    assert "backroom.prune" not in by_name()


def test_maintenance_schedule_needs_a_backroom_default_backend(settings):
    del settings.BACKROOM
    settings.TASKS = {
        "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
        "jobs": {"BACKEND": "backroom.backends.DatabaseBackend"},
    }
    assert "backroom.prune" not in by_name()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"task": "tests.tasks.noop", "cron": "61 3 * * *"},
            "'cron': '61 3 * * *' is not a valid cron expression",
        ),
        ({"task": "tests.tasks.noop", "cron": "0 0 3 * * *"}, "has 6 fields"),
        (
            {"task": "tests.tasks.nope", "cron": "0 3 * * *"},
            "'task': Task 'tests.tasks.nope' cannot be imported",
        ),
        (
            {"task": "nowhere.tasks.x", "cron": "0 3 * * *"},
            "'task': Task 'nowhere.tasks.x' cannot be imported",
        ),
        ({"task": "tests.tasks.not_a_task", "cron": "0 3 * * *"}, "is a function, not a Task"),
        ({"task": "tests.tasks.noop"}, "give exactly one of 'cron' and 'interval'"),
        ({"task": "tests.tasks.noop", "cron": "0 3 * * *", "interval": 60}, "give exactly one of"),
        ({"task": "tests.tasks.noop", "interval": 0.5}, "'interval' must be at least 1 second"),
        ({"task": "tests.tasks.noop", "interval": "5m"}, "'interval' must be at least 1 second"),
        ({"task": "tests.tasks.noop", "cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "IANA timezone"),
        ({"task": "tests.tasks.noop", "cron": "0 3 * * *", "missed": "never"}, "'missed' must be one of"),
        ({"task": "tests.tasks.noop", "cron": "0 3 * * *", "missed_limit": 0}, "'missed_limit' must be"),
        ({"task": "tests.tasks.add", "cron": "0 3 * * *", "args": [1, {2}]}, "must be JSON values"),
        ({"task": "tests.tasks.add", "cron": "0 3 * * *", "args": "12"}, "'args' must be a list"),
        (
            {"task": "tests.tasks.add", "cron": "0 3 * * *", "args": [1]},
            "do not fit the task tests.tasks.add",
        ),
        ({"task": "tests.tasks.noop", "cron": "0 3 * * *", "queue_name": "no way"}, "Queue name 'no way'"),
        ({"task": "tests.tasks.noop", "cron": "0 3 * * *", "priority": 1000}, "priority"),
        (
            {"task": "tests.tasks.noop", "cron": "0 3 * * *", "backend": "nope"},
            "'nope', which is not in TASKS",
        ),
        ({"task": "tests.tasks.noop", "corn": "0 3 * * *"}, "unknown key(s) 'corn'"),
        ("0 3 * * *", "must be a dict (or None to remove the schedule), not str"),
    ],
)
def test_invalid_schedule_is_a_check_error_naming_schedule_and_setting(settings, entry, expected):
    errors = errors_for(settings, entry)
    assert len(errors) == 1, errors
    assert "BACKROOM[\"SCHEDULES\"]['nightly']" in errors[0]
    assert expected in errors[0]


def test_check_errors_carry_the_schedule_name_as_their_object(settings):
    settings.BACKROOM = {"SCHEDULES": {"nightly": {"task": "tests.tasks.noop", "cron": "bad"}}}
    [error] = check_schedules()
    assert error.id == "backroom.E102" and error.obj == "schedule 'nightly'"
    assert error.msg.startswith("BACKROOM[\"SCHEDULES\"]['nightly']: 'cron': 'bad' has 1 fields")


def test_task_on_a_backend_that_is_not_backroom_is_refused(settings):
    settings.TASKS = {
        **settings.TASKS,
        "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
    }
    errors = errors_for(settings, {"task": "tests.tasks.noop", "cron": "0 3 * * *", "backend": "immediate"})
    assert "'immediate' is not a backroom backend" in errors[0]


def test_schedules_setting_must_be_a_dict(settings):
    settings.BACKROOM = {"SCHEDULES": [("nightly", {})]}
    [error] = check_schedules()
    assert error.id == "backroom.E101" and 'BACKROOM["SCHEDULES"] must be a dict' in error.msg


def test_invalid_code_declaration_names_its_module(settings):
    settings.BACKROOM = {}
    schedule(tasks.noop, name="broken", cron="0 25 * * *")
    [error] = check_schedules()
    assert error.msg.startswith("schedule('broken') in tests.tasks: 'cron': '0 25 * * *' is not a valid cron")


def test_two_code_declarations_under_one_name_are_an_error(settings):
    settings.BACKROOM = {}
    schedule(tasks.noop, name="twice", cron="0 3 * * *")
    schedule(tasks.add, name="twice", cron="0 4 * * *", args=[1, 2])
    [error] = check_schedules()
    assert "a second schedule() under this name" in error.msg and error.obj == "schedule 'twice'"


@pytest.mark.django_db
def test_manage_py_check_fails_on_an_invalid_schedule(settings):
    settings.BACKROOM = {"SCHEDULES": {"digest": {"task": "tests.tasks.missing", "cron": "0 9 * * MON"}}}
    with pytest.raises(SystemCheckError, match=r"(?s)schedule 'digest'.*tests\.tasks\.missing"):
        call_command("check")


def test_retention_settings_are_checked(settings):
    settings.BACKROOM = {
        "RETENTION": {"SUCCESSFUL_DAYS": 0, "FAILED_DAYS": "30", "BATCH_SIZE": 2.5, "KEEP": 1}
    }
    messages = sorted(m.msg for m in check_retention())
    assert len(messages) == 4
    assert any("['SUCCESSFUL_DAYS'] must be a number above 0, not 0" in m for m in messages)
    assert any("['FAILED_DAYS'] must be a number above 0, not '30'" in m for m in messages)
    assert any("['BATCH_SIZE'] must be a whole number above 0, not 2.5" in m for m in messages)
    assert any("['KEEP'] is not a retention setting" in m for m in messages)
    settings.BACKROOM = {"RETENTION": {"SUCCESSFUL_DAYS": 1, "FAILED_DAYS": 90, "BATCH_SIZE": 10}}
    assert check_retention() == []
