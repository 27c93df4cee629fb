"""Who may see the dashboard and who may act: anonymous, non-staff, staff, staff with the permission."""

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from tests import tasks
from tests.support import store_of, stored_job

from .states import failed_job

PAGES = ["/backroom/", "/backroom/?region=queues", "/backroom/jobs/", "/backroom/workers/"]


@pytest.fixture
def failed(store):
    return failed_job(store)


def actions(job_id: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"/backroom/jobs/{job_id}/retry", {}),
        (f"/backroom/jobs/{job_id}/cancel", {}),
        ("/backroom/failed/retry", {"task": "tests.tasks.always_fail"}),
        ("/backroom/failed/delete", {"task": "tests.tasks.always_fail"}),
        ("/backroom/queues/default/pause", {}),
        ("/backroom/queues/default/resume", {}),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/backroom/")


@pytest.mark.django_db
def test_a_project_login_url_wins_over_the_admin(client, settings):
    settings.LOGIN_URL = "/accounts/sign-in/"
    response = client.get("/backroom/jobs/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?next=/backroom/jobs/"


@pytest.mark.parametrize("url", PAGES)
def test_logged_in_users_who_are_not_staff_are_refused(outsider, url):
    assert outsider.get(url).status_code == 403


def test_inactive_staff_are_refused(db):
    user = User.objects.create_user("gone", password="pw", is_staff=True, is_active=False)
    client = Client()
    client.force_login(user)
    response = client.get("/backroom/")
    assert response.status_code in (302, 403)  # Django logs inactive users out, or we refuse them


@pytest.mark.parametrize("url", PAGES)
def test_viewers_see_every_page(viewer, url):
    assert viewer.get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_staff_without_the_view_permission_are_refused(staff, url):
    assert staff.get(url).status_code == 403


def test_the_change_permission_includes_viewing_and_superusers_have_both(store, failed, operator, db):
    job_page = f"/backroom/jobs/{failed}/?backend={store}"
    assert b'data-action="retry"' in operator.get(job_page).content
    root = User.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(root)
    assert b'data-action="retry"' in client.get(job_page).content
    assert client.post(f"/backroom/jobs/{failed}/retry?backend={store}").status_code == 302
    assert stored_job(store, failed).status == "READY"


def test_pages_and_actions_are_never_cached(store, failed, viewer, operator):
    responses = [viewer.get(url) for url in PAGES]
    responses.append(viewer.get(f"/backroom/jobs/{failed}/?backend={store}"))
    responses.append(operator.post(f"/backroom/jobs/{failed}/retry?backend={store}"))
    responses.append(viewer.get("/backroom/metrics"))
    for response in responses:
        assert response.status_code in (200, 302)
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= cache_control, response["Cache-Control"]


def test_nobody_acts_without_staff_and_the_change_permission(store, failed, client, outsider, viewer, staff):
    job_page = f"/backroom/jobs/{failed}/?backend={store}"
    assert b'data-action="retry"' not in viewer.get(job_page).content  # no button without the permission
    for url, data in actions(failed):
        data = {**data, "backend": store}
        assert client.post(url, data).status_code == 302  # to the login page
        assert client.post(url, data)["Location"].startswith("/admin/login/")
        assert outsider.post(url, data).status_code == 403
        assert viewer.post(url, data).status_code == 403
        assert staff.post(url, data).status_code == 403
    confirm = f"/backroom/failed/delete/confirm?task=tests.tasks.always_fail&backend={store}"
    assert viewer.get(confirm).status_code == 403
    job = stored_job(store, failed)
    assert (job.status, job.attempts) == ("FAILED", 1)  # nothing happened
    assert store_of(store).inspector.paused_queues() == []


def test_actions_are_post_only(store, failed, operator):
    for url, _ in actions(failed):
        assert operator.get(url, {"backend": store}).status_code == 405
    assert stored_job(store, failed).status == "FAILED"


def test_actions_without_the_csrf_token_are_refused(store, failed, db):
    user = User.objects.create_user("careful", password="pw", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="change_job", content_type__app_label="backroom")
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for url, data in actions(failed):
        assert client.post(url, {**data, "backend": store}).status_code == 403
    assert stored_job(store, failed).status == "FAILED"

    # The same request with the token from the job's page goes through.
    page = client.get(f"/backroom/jobs/{failed}/?backend={store}").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(f"/backroom/jobs/{failed}/retry?backend={store}", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert stored_job(store, failed).status == "READY"


def test_operators_can_act(store, failed, operator):
    ready = tasks.noop.using(backend=store).enqueue()
    response = operator.post(f"/backroom/jobs/{failed}/retry?backend={store}")
    assert response.status_code == 302
    assert response["Location"] == f"/backroom/jobs/{failed}/" + (
        "" if store == "default" else f"?backend={store}"
    )
    assert stored_job(store, failed).status == "READY"
    assert operator.post(f"/backroom/jobs/{ready.id}/cancel", {"backend": store}).status_code == 302
    assert stored_job(store, ready.id).status == "CANCELLED"
    assert "operator (dashboard)" in stored_job(store, ready.id).errors[-1].cancelled_by
