"""Staff add a schedule in a real browser: a mistake shown at its field, then saved, paused, deleted.

Headless Chromium against the live server, so the CSRF token travels as a
browser sends it. Screenshots go to test-artifacts/.
"""

import re

import pytest
from django.contrib.auth.models import Permission, User

from backroom.models import StoredSchedule
from tests.support import ROOT

ARTIFACTS = ROOT / "test-artifacts"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"schedules-{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_staff_add_fix_pause_and_delete_a_schedule(page, live_server, settings):
    settings.BACKROOM = {
        "SCHEDULES": {"backroom.prune": None, "declared": {"task": "tests.tasks.noop", "cron": "@daily"}}
    }
    user = User.objects.create_user("planner", password="a-long-password", is_staff=True)
    for codename in ("view_job", "add_storedschedule", "change_storedschedule", "delete_storedschedule"):
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="backroom")
        )
    page.goto(f"{live_server.url}/backroom/schedules/")
    page.fill("#id_username", "planner")
    page.fill("#id_password", "a-long-password")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/backroom/schedules/$"))
    assert page.get_attribute('tr[data-schedule="declared"]', "data-source") == "settings"

    page.click('[data-action="add-schedule"]')
    page.fill("#id_schedule-name", "digest")
    page.fill("#id_schedule-task", "tests.tasks.record")
    page.fill("#id_schedule-cron", "0 9 * * FUNDAY")
    page.fill("#id_schedule-args", '["weekly"]')
    page.click('[data-action="save"]')
    assert "is not a valid cron expression" in page.inner_text('[data-errors="cron"]')
    shot(page, "1-mistake")

    page.fill("#id_schedule-cron", "0 9 * * MON")
    page.click('[data-action="save"]')
    page.wait_for_url(re.compile(r"/backroom/schedules/$"))
    assert "saved" in page.inner_text(".messages")
    shot(page, "2-saved")
    assert StoredSchedule.objects.get(name="digest").args == ["weekly"]

    page.click('tr[data-schedule="digest"] [data-action="pause"]')
    page.wait_for_selector('tr[data-schedule="digest"] [data-action="resume"]')
    assert not StoredSchedule.objects.get(name="digest").enabled
    shot(page, "3-paused")

    page.click('tr[data-schedule="digest"] [data-action="edit"]')
    page.click('[data-action="delete"]')
    page.wait_for_url(re.compile(r"/backroom/schedules/$"))
    assert page.locator('tr[data-schedule="digest"]').count() == 0
    assert not StoredSchedule.objects.exists()
