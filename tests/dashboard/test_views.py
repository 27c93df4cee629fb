"""What the dashboard's pages show, per store; filters that cannot inject SQL."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

import backroom
from backroom.brokers.inspection import JobFilter
from backroom.compat import task_backends
from backroom.jobs.records import JobStatus
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.support import job_count, stored_job

from .states import claim_one, drain, failed_job, inspector, register_worker

BANNER = (
    "No worker is running for queue <strong>emails</strong>: start one with\n"
    "      <code>python manage.py backroom worker{backend} --queue emails</code>"
)


def url(store: str, path: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"backend": store, **params}.items())
    return f"{path}?{query}"


def counts(html: str, queue: str) -> dict[str, str]:
    row = re.search(rf'<tr data-queue="{queue}">(.*?)</tr>', html, re.S).group(1)
    return {
        name: re.sub(r"<[^>]+>", "", value).strip()
        for name, value in re.findall(r'data-count="(\w+)">(.*?)</td>', row, re.S)
    }


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-job="([0-9a-f-]+)">', html)


def banner(store: str) -> str:
    return BANNER.format(backend="" if store == "default" else f" --backend {store}")


def test_overview_counts_each_queue(store, viewer):
    failed_job(store)
    register_worker(store, "w-1", [])
    claim_one(store, "w-1")
    for _ in range(2):
        tasks.noop.using(backend=store).enqueue()
    tasks.noop.using(backend=store, run_after=timezone.now() + timedelta(hours=1)).enqueue()
    tasks.in_emails_queue.using(backend=store).enqueue("x", store)

    html = viewer.get(url(store, "/backroom/")).content.decode()

    default = counts(html, "default")
    assert {k: default[k] for k in ("ready", "scheduled", "running", "failed", "workers")} == {
        "ready": "2", "scheduled": "1", "running": "1", "failed": "1", "workers": "1",
    }  # fmt: skip
    assert re.fullmatch(r"\d+ms|\d+\.\ds", default["oldest"])
    assert counts(html, "emails")["ready"] == "1"
    assert "tests.tasks.always_fail" in html  # failures by task
    assert '<section id="charts"' in html and "<svg" in html


def test_banner_when_ready_jobs_have_no_live_worker(store, viewer):
    tasks.in_emails_queue.using(backend=store).enqueue("x", store)
    page = url(store, "/backroom/", region="queues")
    assert banner(store) in viewer.get(page).content.decode()

    # A stale worker (no heartbeat within the lease) does not count; one serving other queues neither.
    register_worker(store, "w-stale", ["emails"], heartbeat_at=timezone.now() - timedelta(minutes=5))
    register_worker(store, "w-other", ["default"])
    assert banner(store) in viewer.get(page).content.decode()

    register_worker(store, "w-emails", ["emails"])
    html = viewer.get(page).content.decode()
    assert "No worker is running" not in html
    assert counts(html, "emails")["workers"] == "1"


def test_no_banner_for_an_empty_queue(store, viewer):
    tasks.noop.using(backend=store, run_after=timezone.now() + timedelta(hours=1)).enqueue()
    assert "No worker is running" not in viewer.get(url(store, "/backroom/")).content.decode()


def test_a_region_renders_alone(store, viewer):
    html = viewer.get(url(store, "/backroom/", region="queues")).content.decode()
    assert html.startswith('<section id="queues"') and "<html" not in html
    html = viewer.get(url(store, "/backroom/", region="charts")).content.decode()
    assert html.startswith('<section id="charts"')
    assert viewer.get(url(store, "/backroom/", region="nope")).status_code == 404


def test_charts_draw_the_last_hour(store, viewer):
    for _ in range(3):
        tasks.add.using(backend=store).enqueue(1, 1)
    failed_job(store)
    drain(store)
    html = viewer.get(url(store, "/backroom/", region="charts")).content.decode()
    row = re.search(r'<tr data-queue="default">(.*?)</tr>', html, re.S).group(1)
    assert "4 <span" in row and "(1 failed)" in row
    assert row.count("<svg") == 3
    assert re.search(r'data-latest="run">p50 \d+ms · p95 \d+ms<', row)
    assert re.search(r"successful 3, failed 1|successful \d, failed \d", row)


def test_unknown_backend_and_job_are_not_found(store, viewer):
    assert viewer.get("/backroom/?backend=nope").status_code == 404
    missing = "01234567-89ab-7def-8123-456789abcdef"
    assert viewer.get(url(store, f"/backroom/jobs/{missing}/")).status_code == 404
    assert viewer.get("/backroom/jobs/not-a-uuid/").status_code == 404


def test_job_page_shows_arguments_result_errors_and_timeline(store, viewer):
    result = tasks.fail_times.using(backend=store, max_attempts=2).enqueue("twice", 1, store)
    drain(store)
    clock = timezone.now() + timedelta(hours=1)  # past the retry's backoff
    assert Worker(task_backends[store].store, WorkerOptions(burst=True), clock=lambda: clock).run() == 0
    job = stored_job(store, result.id)
    assert job.status == "SUCCESSFUL"

    html = viewer.get(url(store, f"/backroom/jobs/{result.id}/")).content.decode()
    assert "&quot;twice&quot;" in html  # arguments
    assert '<pre class="json" data-return-value>2</pre>' in html
    assert "ConnectionError: attempt 1 of twice failed" in html  # the traceback
    assert "data-live-every" not in html  # finished: no more polling
    timeline = re.search(r'<table class="grid timeline">(.*?)</table>', html, re.S).group(1)
    events = re.findall(r"<td data-event>([^<]*)</td>", timeline)
    assert events == [
        "enqueued on queue default",
        "started",
        "failed: ConnectionError",
        "started",
        "succeeded",
    ]
    for worker_id in job.worker_ids:
        assert worker_id in timeline
    assert "not recorded" not in timeline  # every start and end has its time


def test_job_page_shows_a_workflow_jobs_parents_and_children(store, viewer):
    handle = backroom.chain(
        backroom.call(tasks.add.using(backend=store), 1, 2),
        backroom.call(tasks.add.using(backend=store), 10),
        on_failure=backroom.call(tasks.noop.using(backend=store)),
    ).enqueue()
    first, second = handle.results
    html = viewer.get(url(store, f"/backroom/jobs/{second.id}/")).content.decode()
    assert "Waiting for 1 of its parents" in html
    assert re.search(rf'<a href="/backroom/jobs/{first.id}/[^"]*" data-parent>', html)
    assert re.search(rf'<a href="/backroom/jobs/{handle.on_failure.id}/[^"]*" data-on-failure>', html)
    assert "its parent&#x27;s return value" in html
    assert "<dt>Due</dt>" not in html  # it is due when its parent releases it, not before
    html = viewer.get(url(store, f"/backroom/jobs/{first.id}/")).content.decode()
    assert re.search(rf'<a href="/backroom/jobs/{second.id}/[^"]*" data-child>', html)
    assert "data-waiting" not in html

    drain(store)
    html = viewer.get(url(store, f"/backroom/jobs/{second.id}/")).content.decode()
    assert "data-waiting" not in html and '<pre class="json" data-return-value>13</pre>' in html


def test_an_active_job_page_keeps_refreshing(store, viewer):
    result = tasks.noop.using(backend=store).enqueue()
    html = viewer.get(url(store, f"/backroom/jobs/{result.id}/", region="job")).content.decode()
    assert html.startswith('<section id="job"') and 'data-live-every="2"' in html


def test_job_list_filters(store, viewer):
    failed = failed_job(store)
    emails = tasks.in_emails_queue.using(backend=store).enqueue("x", store).id
    ready = tasks.noop.using(backend=store).enqueue().id

    def ids(**params):
        response = viewer.get(url(store, "/backroom/jobs/", **params))
        assert response.status_code == 200
        return listed(response.content.decode())

    assert ids() == [ready, emails, failed]
    assert ids(queue="emails") == [emails]
    assert ids(status="FAILED") == [failed]
    assert ids(task="always") == [failed]
    assert ids(id=emails) == [emails]
    assert ids(id=emails[:23].upper()) == [emails]  # a prefix, any case
    assert ids(since="2000-01-01T00:00", until="2999-01-01T00:00") == [ready, emails, failed]
    assert ids(until="2000-01-01T00:00") == []


def test_job_list_pages(store, viewer):
    made = [tasks.noop.using(backend=store).enqueue().id for _ in range(55)]
    first = viewer.get(url(store, "/backroom/jobs/")).content.decode()
    assert listed(first) == made[::-1][:50]
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = viewer.get(url(store, "/backroom/jobs/", page="2")).content.decode()
    assert listed(second) == made[::-1][50:]
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert listed(viewer.get(url(store, "/backroom/jobs/", page="x")).content.decode()) == listed(first)


@pytest.mark.parametrize(
    "page, status",
    [
        ("99999999999999999999", 404),
        ("10001", 404),
        ("10000", 200),
        ("-99999999999999999999", 200),
        ("9" * 5000, 200),
    ],
)
def test_absurd_page_numbers_are_not_found_or_the_first_page(store, viewer, page, status):
    tasks.noop.using(backend=store).enqueue()
    response = viewer.get(url(store, "/backroom/jobs/", page=page))
    assert response.status_code == status


INJECTIONS = [
    "' OR '1'='1",
    "x'; DROP TABLE backroom_job; --",
    '" OR 1=1 --',
    "%' OR 1=1 OR task_path LIKE '%",
    "READY' UNION SELECT * FROM auth_user --",
    "1) OR (1=1",
    "\\'; DELETE FROM backroom_job; --",
]


@pytest.mark.parametrize("param", ["queue", "task", "status", "since", "until", "id", "page", "backend"])
def test_filters_and_search_cannot_inject_sql(store, viewer, param):
    failed = failed_job(store)
    ready = tasks.noop.using(backend=store).enqueue().id
    everything = [ready, failed]
    for attack in INJECTIONS:
        response = viewer.get("/backroom/jobs/", {"backend": store, param: attack})
        if param == "backend":
            assert response.status_code == 404  # no backend by that name: nothing read
            continue
        assert response.status_code == 200, attack
        shown = listed(response.content.decode())
        if param in ("queue", "task"):
            assert shown == [], attack  # matched as plain text: nothing has that name
        elif param == "page":
            assert shown == everything, attack  # not a number: the first page
        else:
            assert shown == [], attack  # refused by the form's validation
            assert "errors" in response.content.decode()
        assert job_count(store) == 2  # nothing deleted
    assert sorted(j.id for j in [stored_job(store, i) for i in everything]) == sorted(everything)


def test_bulk_actions_confirm_then_act(store, operator):
    for _ in range(2):
        failed_job(store)
    other = tasks.fail_times.using(backend=store, max_attempts=1).enqueue("o", 5, store).id
    drain(store)
    confirm = operator.get(url(store, "/backroom/failed/retry/confirm", task="tests.tasks.always_fail"))
    assert confirm.status_code == 200
    assert b"<strong data-count>2</strong>" in confirm.content
    response = operator.post("/backroom/failed/retry", {"task": "tests.tasks.always_fail", "backend": store})
    assert response.status_code == 302

    def of_task(**where):
        return inspector(store).jobs(JobFilter(task="tests.tasks.always_fail", **where), 0, 100).jobs

    assert len(of_task(status=JobStatus.READY)) == 2

    drain(store)  # they fail again
    delete = operator.get(url(store, "/backroom/failed/delete/confirm", task="tests.tasks.always_fail"))
    assert b"cannot be undone" in delete.content
    operator.post("/backroom/failed/delete", {"task": "tests.tasks.always_fail", "backend": store})
    assert of_task() == []
    assert stored_job(store, other).status == "FAILED"
    assert operator.post("/backroom/failed/explode", {"task": "x", "backend": store}).status_code == 404


def test_cancel_asks_a_running_job_to_stop(store, operator):
    running = claim_one(store, "w-1")
    html = operator.get(url(store, f"/backroom/jobs/{running}/")).content.decode()
    assert "Ask to stop" in html
    operator.post(f"/backroom/jobs/{running}/cancel", {"backend": store})
    job = stored_job(store, running)
    assert (job.status, job.cancel_requested) == ("RUNNING", True)
    html = operator.get(url(store, f"/backroom/jobs/{running}/")).content.decode()
    assert "Cancellation requested" in html and "Ask to stop" not in html


def test_workers_page_shows_live_and_stale_workers(store, viewer):
    register_worker(store, "w-live", ["default", "emails"])
    register_worker(store, "w-stale", [], heartbeat_at=timezone.now() - timedelta(minutes=10))
    job_id = claim_one(store, "w-live")
    html = viewer.get(url(store, "/backroom/workers/")).content.decode()
    live = re.search(r'<tr data-worker="w-live" class="">(.*?)</tr>', html, re.S).group(1)
    assert "default, emails" in live and ">live<" in live and job_id in live and "5m 00s" in live
    stale = re.search(r'<tr data-worker="w-stale" class="stale">(.*?)</tr>', html, re.S).group(1)
    assert ">stale<" in stale and ">all<" in stale and "10m 00s ago" in stale and "idle" in stale


def test_operators_pause_and_resume_a_queue_from_the_overview(store, operator, viewer):
    tasks.in_emails_queue.using(backend=store).enqueue("waits", store)
    html = operator.get(url(store, "/backroom/")).content.decode()
    row = re.search(r'<tr data-queue="emails">(.*?)</tr>', html, re.S).group(1)
    assert 'data-state="open"' in row and 'data-action="pause"' in row
    assert 'data-action="pause"' not in viewer.get(url(store, "/backroom/")).content.decode()

    response = operator.post(f"/backroom/queues/emails/pause?backend={store}")
    assert response.status_code == 302
    assert inspector(store).paused_queues() == ["emails"]
    html = operator.get(url(store, "/backroom/")).content.decode()
    assert "Queue emails is paused" in html
    row = re.search(r'<tr data-queue="emails">(.*?)</tr>', html, re.S).group(1)
    assert 'data-state="paused"' in row and 'data-action="resume"' in row
    assert BANNER.format(backend="" if store == "default" else f" --backend {store}") not in html

    operator.post(f"/backroom/queues/emails/resume?backend={store}")
    assert inspector(store).paused_queues() == []
    assert "Queue emails is resumed" in operator.get(url(store, "/backroom/")).content.decode()
    assert operator.post(f"/backroom/queues/no%20such/pause?backend={store}").status_code == 404


def test_the_job_page_shows_its_limits(store, viewer):
    task = tasks.one_per_key.using(backend=store, limit_key="account:7", rate_limit="3/m")
    result = task.enqueue("x", 0, store)
    html = viewer.get(url(store, f"/backroom/jobs/{result.id}/")).content.decode()
    shown = re.search(r"<dd data-limits>(.*?)</dd>", html, re.S).group(1)
    assert (
        re.sub(r"<[^>]+>", "", shown) == "tests.tasks.one_per_key|account:7: 1 at once, 3/60 (starts/seconds)"
    )
