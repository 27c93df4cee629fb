"""The Inspector of each store: counts, history, listings, workers and actions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backroom.backends.stores import stores
from backroom.brokers.contract import Cancelled, Transition
from backroom.brokers.inspection import JobFilter, percentile
from backroom.compat import TaskResultStatus
from backroom.jobs.records import JobStatus
from tests import tasks
from tests.support import store_of, stored_job

from .states import broker, claim_one, drain, failed_job, inspector, register_worker


def test_every_store_can_be_inspected(store):
    assert store in stores()


def test_queue_stats_count_each_state(store):
    failed_job(store)
    failed_job(store)
    running = claim_one(store, "w-1")
    before = timezone.now()
    for _ in range(3):
        tasks.noop.using(backend=store).enqueue()
    tasks.in_emails_queue.using(backend=store).enqueue("a", store)
    tasks.noop.using(backend=store, run_after=timezone.now() + timedelta(hours=1)).enqueue()

    stats = {q.queue_name: q for q in inspector(store).queue_stats(timezone.now())}

    assert set(stats) == {"default", "emails"}
    default = stats["default"]
    assert (default.ready, default.scheduled, default.running, default.failed) == (3, 1, 1, 2)
    assert before <= default.oldest_ready_at <= timezone.now()
    emails = stats["emails"]
    assert (emails.ready, emails.scheduled, emails.running, emails.failed) == (1, 0, 0, 0)
    assert stored_job(store, running).status == "RUNNING"


def test_queue_stats_count_jobs_held_ahead_as_ready(store):
    """A job a worker holds ahead is READY (its code has not started): counted beside the waiting ones."""
    first = tasks.noop.using(backend=store).enqueue()
    tasks.noop.using(backend=store).enqueue()
    now = timezone.now()
    [held] = broker(store).claim("w-1", [], 1, now, now + timedelta(seconds=60))
    assert held.id == first.id

    [stats] = inspector(store).queue_stats(timezone.now())

    assert (stats.ready, stats.scheduled, stats.running, stats.failed) == (2, 0, 0, 0)
    assert stats.oldest_ready_at == stored_job(store, first.id).available_at


def test_throughput_and_timings_cover_finished_jobs(store):
    since = timezone.now() - timedelta(hours=1)
    for _ in range(4):
        tasks.add.using(backend=store).enqueue(1, 2)
    failed_job(store)
    drain(store)

    counts = inspector(store).throughput(since)
    assert sum(c.successful for c in counts) == 4
    assert sum(c.failed for c in counts) == 1
    assert {c.queue_name for c in counts} == {"default"}
    assert all(c.minute.second == 0 and c.minute.microsecond == 0 for c in counts)

    timings = inspector(store).timings(since, timedelta(minutes=5), sample_per_minute=3)
    assert {t.queue_name for t in timings} == {"default"}
    # At most 3 jobs are sampled per minute; 5 finished within at most 2 minutes.
    assert 3 <= sum(t.samples for t in timings) <= 5
    for t in timings:
        assert 0 <= t.wait_p50_seconds <= t.wait_p95_seconds < 60
        assert 0 <= t.run_p50_seconds <= t.run_p95_seconds < 60
        assert since <= t.start <= timezone.now()


def test_nothing_older_than_the_window_counts(store):
    tasks.add.using(backend=store).enqueue(1, 2)
    drain(store)
    later = timezone.now() + timedelta(seconds=1)
    assert inspector(store).throughput(later) == []
    assert inspector(store).timings(later, timedelta(minutes=5), 10) == []


def test_failed_tasks_group_failures_by_task(store):
    failed_job(store)
    failed_job(store)
    tasks.fail_times.using(backend=store, max_attempts=1).enqueue("x", 5, store)
    drain(store)
    failures = inspector(store).failed_tasks(limit=10)
    assert [(f.task_path, f.count) for f in failures] == [
        ("tests.tasks.always_fail", 2),
        ("tests.tasks.fail_times", 1),
    ]
    assert all(f.last_failed_at is not None for f in failures)


def test_job_listing_filters_and_pages(store):
    first = tasks.add.using(backend=store).enqueue(1, 1)
    middle = timezone.now()
    emails = tasks.in_emails_queue.using(backend=store).enqueue("a", store)
    last = tasks.add.using(backend=store).enqueue(2, 2)
    listing = inspector(store)

    page = listing.jobs(JobFilter(), offset=0, limit=2)
    assert [j.id for j in page.jobs] == [last.id, emails.id]
    assert page.has_next
    page = listing.jobs(JobFilter(), offset=2, limit=2)
    assert [j.id for j in page.jobs] == [first.id] and not page.has_next

    def ids(**where):
        return [j.id for j in listing.jobs(JobFilter(**where), 0, 10).jobs]

    assert ids(queue_name="emails") == [emails.id]
    assert ids(task="TASKS.ADD") == [last.id, first.id]
    assert ids(status="READY") == [last.id, emails.id, first.id]
    assert ids(status="FAILED") == []
    assert ids(enqueued_after=middle) == [last.id, emails.id]
    assert ids(enqueued_before=middle) == [first.id]
    assert ids(id_prefix=emails.id) == [emails.id]
    assert ids(id_prefix=emails.id[:23].upper()) == [emails.id]  # past the time-ordered part
    assert ids(queue_name="emails", task="add") == []


def test_workers_show_the_jobs_they_run(store):
    register_worker(store, "w-busy", ["default"])
    register_worker(store, "w-idle", [])
    job_id = claim_one(store, "w-busy")
    workers = {w.id: w for w in inspector(store).workers()}
    assert set(workers) == {"w-busy", "w-idle"}
    busy = workers["w-busy"]
    assert [(r.id, r.task_path, r.attempt) for r in busy.running] == [(job_id, "tests.tasks.noop", 1)]
    assert busy.queues == ["default"] and busy.serves("default") and not busy.serves("emails")
    assert workers["w-idle"].running == [] and workers["w-idle"].serves("anything")


def test_retry_gives_a_used_up_job_another_attempt(store):
    result = tasks.fail_times.using(backend=store, max_attempts=1).enqueue("once", 1, store)
    drain(store)
    assert stored_job(store, result.id).status == "FAILED"

    assert inspector(store).retry_job(result.id, timezone.now())
    job = stored_job(store, result.id)
    assert (job.status, job.attempts, job.max_attempts, job.finished_at) == ("READY", 1, 2, None)
    assert len(job.errors) == 1  # the failure stays in the history
    assert not inspector(store).retry_job(result.id, timezone.now())  # READY: nothing to retry

    drain(store)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 2
    assert stored_job(store, result.id).attempts == 2


def test_retry_refuses_unknown_and_malformed_ids(store):
    assert not inspector(store).retry_job("00000000-0000-7000-8000-000000000000", timezone.now())
    assert not inspector(store).retry_job("not-a-uuid", timezone.now())
    assert inspector(store).cancel("'; DROP TABLE backroom_job; --", timezone.now(), "x") == Cancelled.UNKNOWN
    assert inspector(store).cancel("nope", timezone.now(), "x") == Cancelled.UNKNOWN


def test_cancel_a_ready_job_records_who(store):
    result = tasks.noop.using(backend=store).enqueue()
    assert inspector(store).cancel(result.id, timezone.now(), by="alice") == Cancelled.CANCELLED
    job = stored_job(store, result.id)
    assert job.status == "CANCELLED" and job.finished_at is not None
    assert job.errors[-1].exception_class_path == "backroom.exceptions.JobCancelled"
    assert job.errors[-1].cancelled_by == "alice"
    assert "cancelled by alice" in job.errors[-1].traceback
    assert inspector(store).cancel(result.id, timezone.now(), by="bob") == Cancelled.FINISHED
    drain(store)
    assert stored_job(store, result.id).status == "CANCELLED"  # no worker picks it up

    assert inspector(store).retry_job(result.id, timezone.now())  # a cancelled job can run after all
    drain(store)
    assert stored_job(store, result.id).status == "SUCCESSFUL"


def test_cancel_asks_a_running_job_to_stop(store):
    running = claim_one(store, "w-1")
    assert inspector(store).cancel(running, timezone.now(), by="alice") == Cancelled.REQUESTED
    job = stored_job(store, running)
    assert (job.status, job.cancel_requested) == ("RUNNING", True)


def test_cancel_of_a_job_held_ahead_stops_it_from_starting(store):
    held = tasks.noop.using(backend=store).enqueue()
    now = timezone.now()
    [claimed] = store_of(store).broker.claim("w-1", (), 1, now, now + timedelta(seconds=60))
    assert inspector(store).cancel(held.id, now, by="alice") == Cancelled.CANCELLED
    start = Transition(
        job_id=held.id, queue_name=claimed.queue_name, attempt=1, status=JobStatus.RUNNING, started_at=now
    )
    assert store_of(store).broker.record("w-1", [start]) == {held.id}  # the worker learns it must not run
    job = stored_job(store, held.id)
    assert (job.status, job.attempts, job.worker_id) == ("CANCELLED", 0, None)


def test_retry_and_delete_all_failed_of_a_task(store):
    failed = [failed_job(store, f"m{i}") for i in range(3)]
    other = tasks.fail_times.using(backend=store, max_attempts=1).enqueue("other", 5, store)
    drain(store)
    # Two failed jobs sharing a unique key: only one of them may become active again.
    keyed = tasks.always_fail.using(backend=store, max_attempts=1, unique_key="k")
    keyed_ids = [keyed.enqueue("k1").id]
    drain(store)
    keyed_ids.append(keyed.enqueue("k2").id)
    drain(store)

    assert inspector(store).retry_failed("tests.tasks.always_fail", timezone.now()) == 4
    statuses = [stored_job(store, i).status for i in failed]
    assert statuses == ["READY"] * 3
    assert sorted(stored_job(store, i).status for i in keyed_ids) == ["FAILED", "READY"]
    assert stored_job(store, other.id).status == "FAILED"

    drain(store)
    assert inspector(store).delete_failed("tests.tasks.always_fail") == 5
    assert inspector(store).get(failed[0]) is None
    assert stored_job(store, other.id).status == "FAILED"
    assert inspector(store).delete_failed("tests.tasks.always_fail") == 0


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([5.0], 0.95, 5.0), ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5), ([4.0, 1.0, 3.0, 2.0], 0.95, 3.85)],
)
def test_percentile_interpolates_like_percentile_cont(values, fraction, expected):
    assert percentile(values, fraction) == pytest.approx(expected)


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 0.5)
