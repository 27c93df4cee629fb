"""Database schedules in the admin and the dashboard: staff with the model's permissions, CSRF, validation."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from backroom.compat import task_backends
from backroom.models import StoredSchedule
from tests import tasks

ADMIN = "/admin/backroom/storedschedule/"
DASHBOARD = "/backroom/schedules/"
SCHEDULE_PERMISSIONS = ("add_storedschedule", "change_storedschedule", "delete_storedschedule")
#: A valid schedule, as the form's fields.
VALID = {
    "name": "digest",
    "task": "tests.tasks.record",
    "cron": "0 9 * * MON",
    "interval": "",
    "timezone": "Europe/Paris",
    "args": '["weekly"]',
    "kwargs": "{}",
    "queue_name": "",
    "priority": "",
    "backend": "",
    "missed": "latest",
    "missed_limit": "100",
    "enabled": "on",
}
#: Each mistake, and what the form says about it, by field.
MISTAKES = [
    ({"cron": "0 9 * * FUNDAY"}, "cron", "is not a valid cron expression"),
    ({"task": "tests.tasks.nowhere"}, "task", "cannot be imported"),
    ({"task": "tests.support.runs"}, "task", "not a Task"),
    ({"args": "[1, 2"}, "args", "Enter a valid JSON"),
    ({"args": '{"a": 1}'}, "args", "'args' must be a list"),
    ({"interval": "300"}, None, "give exactly one of 'cron' and 'interval'"),
    ({"timezone": "Mars/Olympus"}, "timezone", "IANA timezone"),
    ({"name": "declared"}, "name", "is the name of BACKROOM[\"SCHEDULES\"]['declared']"),
]


def client_with(*codenames: str, staff: bool = True, enforce_csrf: bool = False) -> Client:
    user = User.objects.create_user(f"user{User.objects.count()}", password="pw", is_staff=staff)
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="backroom")
        )
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def declared(settings):
    settings.BACKROOM = {
        "SCHEDULES": {"backroom.prune": None, "declared": {"task": "tests.tasks.noop", "interval": 60}}
    }


@pytest.fixture
def scheduler_admin(db):
    """Staff who may view the dashboard and add, change and delete schedules."""
    return client_with("view_job", *SCHEDULE_PERMISSIONS)


def prefixed(data: dict) -> dict:
    return {f"schedule-{key}": value for key, value in data.items()}


def errors_of(page: str, field: str | None) -> str:
    """The errors the dashboard's form shows for ``field`` (None: the whole form)."""
    found = re.search(rf'data-errors="{field or "__all__"}">(.*?)</ul>', page, re.S)
    return found.group(1) if found else ""


# The admin.


def test_admin_adds_edits_pauses_resumes_and_deletes_schedules(scheduler_admin):
    assert scheduler_admin.post(f"{ADMIN}add/", {**VALID, "_save": "Save"}).status_code == 302
    row = StoredSchedule.objects.get(name="digest")
    assert (row.cron, row.timezone, row.args, row.enabled) == (
        "0 9 * * MON",
        "Europe/Paris",
        ["weekly"],
        True,
    )

    edited = {**VALID, "cron": "", "interval": "300", "_save": "Save"}
    assert scheduler_admin.post(f"{ADMIN}{row.pk}/change/", edited).status_code == 302
    row.refresh_from_db()
    assert (row.cron, row.interval) == ("", timedelta(minutes=5))

    saved_at = row.updated_at
    scheduler_admin.post(ADMIN, {"action": "pause_schedules", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert not row.enabled and row.updated_at > saved_at  # schedulers notice the change by updated_at
    scheduler_admin.post(ADMIN, {"action": "resume_schedules", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.enabled

    assert scheduler_admin.post(f"{ADMIN}{row.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not StoredSchedule.objects.exists()


@pytest.mark.parametrize(("change", "field", "message"), MISTAKES)
def test_admin_form_shows_what_is_wrong(scheduler_admin, change, field, message):
    response = scheduler_admin.post(f"{ADMIN}add/", {**VALID, **change, "_save": "Save"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field or "__all__"]), errors
    assert not StoredSchedule.objects.exists()


def test_admin_needs_the_schedule_permissions_and_the_csrf_token(db):
    viewer = client_with("view_job")
    assert viewer.get(f"{ADMIN}add/").status_code == 403
    assert viewer.post(f"{ADMIN}add/", {**VALID, "_save": "Save"}).status_code == 403
    careful = client_with("view_job", *SCHEDULE_PERMISSIONS, enforce_csrf=True)
    assert careful.post(f"{ADMIN}add/", {**VALID, "_save": "Save"}).status_code == 403
    assert not StoredSchedule.objects.exists()
    page = careful.get(f"{ADMIN}add/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = careful.post(f"{ADMIN}add/", {**VALID, "_save": "Save", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert StoredSchedule.objects.filter(name="digest").exists()


# The dashboard.


def test_dashboard_lists_declared_and_database_schedules_with_their_runs(store, viewer):
    StoredSchedule.objects.create(name="nightly", task="tests.tasks.noop", cron="0 3 * * *", backend=store)
    StoredSchedule.objects.create(
        name="resting", task="tests.tasks.noop", interval=timedelta(hours=1), backend=store, enabled=False
    )
    backend = task_backends[store]
    last_night = timezone.now().replace(hour=3, minute=0, second=0, microsecond=0) - timedelta(days=1)
    backend.store.broker.enqueue_slot(
        backend.jobs.new_job(tasks.noop.using(backend=store), (), {}), "nightly", last_night
    )
    page = viewer.get(DASHBOARD, {"backend": store}).content.decode()
    rows = dict(re.findall(r'<tr data-schedule="([^"]+)" data-source="(\w+)"', page))
    assert rows == {"declared": "settings", "nightly": "database", "resting": "database"}
    nightly = page[page.index('data-schedule="nightly"') :].split("</tr>")[0]
    assert f"{last_night:%Y-%m-%d} 03:00 UTC" in nightly and 'class="status ready"' in nightly
    resting = page[page.index('data-schedule="resting"') :].split("</tr>")[0]
    assert "paused" in resting
    assert (
        'data-action="add-schedule"' not in page and 'data-action="pause"' not in page
    )  # a viewer only looks


def test_dashboard_adds_edits_pauses_resumes_and_deletes_schedules(scheduler_admin):
    response = scheduler_admin.post(f"{DASHBOARD}add", prefixed(VALID))
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    row = StoredSchedule.objects.get(name="digest")
    assert (row.task, row.cron, row.args) == ("tests.tasks.record", "0 9 * * MON", ["weekly"])
    page = scheduler_admin.get(DASHBOARD).content.decode()
    assert "Schedule &#x27;digest&#x27; saved" in page and 'data-action="pause"' in page

    edit = f"{DASHBOARD}{row.pk}/"
    assert 'value="0 9 * * MON"' in scheduler_admin.get(edit).content.decode()
    scheduler_admin.post(edit, prefixed({**VALID, "kwargs": '{"using": "default"}'}))
    row.refresh_from_db()
    assert row.kwargs == {"using": "default"}

    assert scheduler_admin.post(f"{edit}pause").status_code == 302
    row.refresh_from_db()
    assert not row.enabled
    assert 'data-action="resume"' in scheduler_admin.get(DASHBOARD).content.decode()
    scheduler_admin.post(f"{edit}resume")
    row.refresh_from_db()
    assert row.enabled

    assert scheduler_admin.post(f"{edit}delete").status_code == 302
    assert not StoredSchedule.objects.exists()
    assert scheduler_admin.post(f"{edit}delete").status_code == 404


@pytest.mark.parametrize(("change", "field", "message"), MISTAKES)
def test_dashboard_form_shows_what_is_wrong_by_field(scheduler_admin, change, field, message):
    response = scheduler_admin.post(f"{DASHBOARD}add", prefixed({**VALID, **change}))
    assert response.status_code == 200
    page = response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert message in errors_of(page, field), page
    assert not StoredSchedule.objects.exists()


def test_dashboard_changes_need_staff_the_permissions_and_the_csrf_token(client, viewer, outsider):
    row = StoredSchedule.objects.create(name="kept", task="tests.tasks.noop", interval=timedelta(minutes=5))
    changes = [
        (f"{DASHBOARD}add", prefixed(VALID)),
        (f"{DASHBOARD}{row.pk}/", prefixed({**VALID, "name": "kept"})),
        (f"{DASHBOARD}{row.pk}/pause", {}),
        (f"{DASHBOARD}{row.pk}/delete", {}),
    ]
    careful = client_with("view_job", *SCHEDULE_PERMISSIONS, enforce_csrf=True)
    adder = client_with("view_job", "add_storedschedule")  # may add, not change or delete
    for url, data in changes:
        assert client.post(url, data)["Location"].startswith("/admin/login/")
        assert outsider.post(url, data).status_code == 403
        assert viewer.post(url, data).status_code == 403
        assert careful.post(url, data).status_code == 403
    for url, data in changes[1:]:
        assert adder.post(url, data).status_code == 403
    assert viewer.get(f"{DASHBOARD}add").status_code == 403
    assert adder.get(f"{DASHBOARD}{row.pk}/pause").status_code == 405  # POST only
    row.refresh_from_db()
    assert (row.name, row.enabled, StoredSchedule.objects.count()) == ("kept", True, 1)
