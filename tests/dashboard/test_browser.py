"""A staff member watches the overview as a worker drains the queue, then retries a failed job.

Headless Chromium (Debian's) against the live server; the worker is a real
subprocess. Screenshots of the intermediate states go to test-artifacts/.
"""

import re
import time

import pytest
from django.contrib.auth.models import Permission, User

from tests import tasks
from tests.support import ROOT, stored_job, wait_until

ARTIFACTS = ROOT / "test-artifacts"
READY = 'tr[data-queue="default"] td[data-count="ready"]'
FAILED = 'tr[data-queue="default"] td[data-count="failed"]'
JOBS = 20


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def count(page, selector: str) -> int:
    return int(page.inner_text(selector).strip())


@pytest.mark.django_db(transaction=True)
def test_staff_watch_the_queue_drain_and_retry_a_failed_job(page, live_server, worker_process):
    user = User.objects.create_user("ops", password="a-long-password", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="change_job", content_type__app_label="backroom")
    )
    flaky = tasks.fail_times.using(max_attempts=1, priority=10).enqueue("flaky", 1)  # fails once, then works
    for i in range(JOBS):
        tasks.sleep_then_record.enqueue(0.3, f"job-{i}")

    # Anonymous: the dashboard sends the browser to the admin's login form.
    page.goto(f"{live_server.url}/backroom/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-password")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/backroom/$"))
    assert count(page, READY) == JOBS + 1
    assert "No worker is running for queue default" in page.inner_text("#queues")
    shot(page, "1-before-worker")

    # The page is never reloaded from here on: the marker would vanish.
    page.evaluate("window.notReloaded = true")
    worker = worker_process("--concurrency", "1")
    seen = []
    deadline = time.monotonic() + 90
    while not seen or seen[-1] != 0:
        assert time.monotonic() < deadline, f"the ready count stopped at {seen}"
        value = count(page, READY)
        if not seen or value != seen[-1]:
            seen.append(value)
            if 0 < value < JOBS:
                shot(page, "2-draining")
        time.sleep(0.1)
    assert page.evaluate("window.notReloaded") is True
    assert len(seen) >= 3, f"expected to watch intermediate counts, saw {seen}"
    assert seen == sorted(seen, reverse=True)
    assert "No worker is running" not in page.inner_text("#queues")
    page.wait_for_function(f"document.querySelector('{FAILED}').textContent.trim() === '1'")
    # The charts refresh on their own, slower: the hour's throughput appears without a reload.
    page.wait_for_selector('#charts tr[data-queue="default"] svg rect.ok', timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    shot(page, "3-drained")

    # The failed job: from the overview's count to the list, to the job's page.
    page.click(f"{FAILED} a")
    page.wait_for_url(re.compile(r"/backroom/jobs/\?"))
    assert page.locator("tr[data-job]").count() == 1
    shot(page, "4-failed-jobs-list")
    page.click(f'tr[data-job="{flaky.id}"] a')
    page.wait_for_url(re.compile(rf"/backroom/jobs/{flaky.id}/"))
    assert page.inner_text("[data-status]") == "failed"
    assert "ConnectionError: attempt 1 of flaky failed" in page.inner_text("#job")
    shot(page, "5-failed-job")

    page.click('button[data-action="retry"]')
    page.wait_for_selector(".messages .success")
    page.evaluate("window.notReloaded = true")
    page.wait_for_function(
        "document.querySelector('[data-status]').textContent === 'successful'", timeout=60_000
    )
    assert page.evaluate("window.notReloaded") is True  # the job's region updated itself
    assert page.inner_text("[data-return-value]") == "2"
    events = page.locator("#job [data-event]").all_inner_texts()
    assert events == [
        "enqueued on queue default",
        "started",
        "failed: ConnectionError",
        "started",
        "succeeded",
    ]
    wait_until(lambda: stored_job("default", flaky.id).status == "SUCCESSFUL")
    shot(page, "6-retried-job")

    page.click("text=Workers")
    row = page.locator(f'tr[data-worker*="-{worker.pid}-"]')
    assert "live" in row.inner_text() and "idle" in row.inner_text()
