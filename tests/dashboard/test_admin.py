"""The admin: jobs and workers read-only, retry and cancel as actions behind the change permission."""

import pytest

from tests import tasks
from tests.support import stored_job

from .states import failed_job, register_worker

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/backroom/job/"


def test_job_list_and_read_only_detail(operator):
    failed = failed_job("default")
    response = operator.get(CHANGELIST)
    assert response.status_code == 200
    assert failed in response.content.decode()
    detail = operator.get(f"{CHANGELIST}{failed}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content  # nothing to save: read-only
    assert operator.get(f"{CHANGELIST}add/").status_code == 403
    assert operator.get(f"{CHANGELIST}{failed}/delete/").status_code == 403


def test_retry_and_cancel_actions(operator):
    failed = failed_job("default")
    ready = tasks.noop.enqueue().id
    response = operator.post(CHANGELIST, {"action": "retry_jobs", "_selected_action": [failed, ready]})
    assert response.status_code == 302
    assert stored_job("default", failed).status == "READY"
    messages = operator.get(CHANGELIST).content.decode()
    assert "1 of 2 job(s) are ready to run again" in messages

    operator.post(CHANGELIST, {"action": "cancel_jobs", "_selected_action": [failed, ready]})
    assert stored_job("default", failed).status == "CANCELLED"
    assert stored_job("default", ready).status == "CANCELLED"
    assert stored_job("default", ready).errors[-1].cancelled_by == "operator (admin)"


def test_without_the_change_permission_there_is_no_admin_action(viewer, staff):
    failed = failed_job("default")
    assert staff.get(CHANGELIST).status_code == 403  # no backroom permission at all
    listing = viewer.get(CHANGELIST)  # the view permission: the list, without actions
    assert listing.status_code == 200 and failed in listing.content.decode()
    assert b"retry_jobs" not in listing.content
    viewer.post(CHANGELIST, {"action": "retry_jobs", "_selected_action": [failed]})
    assert stored_job("default", failed).status == "FAILED"


def test_workers_are_listed_read_only(admin_user, client):
    register_worker("default", "w-admin", ["emails"])
    client.force_login(admin_user)
    response = client.get("/admin/backroom/worker/")
    assert response.status_code == 200 and b"w-admin" in response.content
    assert client.get("/admin/backroom/worker/add/").status_code == 403
    assert b'name="_save"' not in client.get("/admin/backroom/worker/w-admin/change/").content


def test_admin_search_takes_text_as_data(operator):
    failed = failed_job("default")
    for attack in ["' OR '1'='1", "x'; DROP TABLE backroom_job; --", failed.upper()]:
        response = operator.get(CHANGELIST, {"q": attack})
        assert response.status_code == 200
        assert (failed in response.content.decode()) is (attack == failed.upper())
    assert stored_job("default", failed).status == "FAILED"
