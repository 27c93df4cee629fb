"""The Lua scripts through the broker: claim order, guarded writes, leases, reaping."""

from django.utils import timezone

from backroom.brokers.base import ClaimRef, Outcome, WorkerInfo

from .factory import ago, later, new_job, succeeded


def _store(broker, **options):
    job = new_job(**options)
    assert broker.enqueue(job) is None
    return job.id


def _ids(jobs):
    return [job.id for job in jobs]


def test_claim_takes_priority_then_age_across_queues(broker):
    now = timezone.now()
    b = _store(broker, queue="emails", available_at=ago(60))
    a = _store(broker, queue="default", available_at=ago(50))
    f = _store(broker, queue="default", available_at=ago(40))
    e = _store(broker, queue="reports", priority=-5, available_at=ago(70))
    d = _store(broker, queue="default", priority=10, available_at=ago(30))
    c = _store(broker, queue="emails", priority=10, available_at=ago(20))
    lease = later(now, 60)
    assert broker.claim("w1", [], 0, now, lease) == []
    # Every known queue when the worker names none; the batch stops at the limit.
    assert _ids(broker.claim("w1", [], 4, now, lease)) == [d, c, b, a]
    assert _ids(broker.claim("w1", [], 4, now, lease)) == [f, e]
    assert broker.claim("w1", [], 4, now, lease) == []


def test_claim_serves_only_the_named_queues(broker):
    now = timezone.now()
    email = _store(broker, queue="emails", priority=100)
    report = _store(broker, queue="reports", priority=50)
    default = _store(broker, queue="default")
    assert _ids(broker.claim("w1", ["default", "reports"], 10, now, later(now, 60))) == [report, default]
    assert _ids(broker.claim("w1", ["emails"], 10, now, later(now, 60))) == [email]


def test_claimed_job_is_running_for_its_worker(broker):
    now = timezone.now()
    job_id = _store(broker)
    [job] = broker.claim("w1", [], 1, now, later(now, 60))
    assert (job.status, job.attempts, job.worker_id, job.worker_ids) == ("RUNNING", 1, "w1", ["w1"])
    assert job.started_at == job.last_attempted_at == now
    assert broker.get(job_id) == job


def test_delayed_job_waits_then_competes_on_priority(broker):
    now = timezone.now()
    delayed = _store(broker, priority=5, available_at=later(now, 30))
    ready = _store(broker)
    assert broker.get(delayed).status == "READY"
    assert _ids(broker.claim("w1", [], 10, now, later(now, 60))) == [ready]
    assert broker.claim("w1", [], 10, later(now, 29), later(now, 90)) == []
    assert _ids(broker.claim("w1", [], 10, later(now, 30), later(now, 90))) == [delayed]


def test_retry_waits_for_its_backoff(broker):
    now = timezone.now()
    job_id = _store(broker)
    broker.claim("w1", [], 1, now, later(now, 60))
    error = {"exception_class_path": "builtins.ValueError", "traceback": "ValueError: x\n"}
    retry_at = later(now, 10)
    outcome = Outcome(
        job_id=job_id, attempt=1, status="READY", finished_at=now, error=error, available_at=retry_at
    )
    broker.persist("w1", [outcome])
    job = broker.get(job_id)
    assert (job.status, job.available_at, job.worker_id, job.errors) == ("READY", retry_at, None, [error])
    assert job.finished_at is None
    assert broker.claim("w1", [], 1, later(now, 9), later(now, 60)) == []
    [again] = broker.claim("w2", [], 1, retry_at, later(now, 60))
    assert (again.attempts, again.worker_ids) == (2, ["w1", "w2"])


def test_late_outcome_after_a_reap_changes_nothing(broker):
    now = timezone.now()
    job_id = _store(broker)
    broker.claim("w1", [], 1, now, later(now, 1))
    [reaped] = broker.reap(later(now, 2))
    assert (reaped.job_id, reaped.worker_id, reaped.status) == (job_id, "w1", "READY")
    broker.persist("w1", [succeeded(job_id, 1, later(now, 3))])  # too late: w1 lost the job
    job = broker.get(job_id)
    assert (job.status, job.attempts) == ("READY", 1)
    assert [e["exception_class_path"] for e in job.errors] == ["backroom.exceptions.WorkerLost"]
    assert job.errors[0]["traceback"] == (
        "backroom.exceptions.WorkerLost: worker lost while running: w1 stopped heartbeating "
        "during attempt 1 of 3.\n"
    )
    assert job.errors[0]["attempt"] == 1

    broker.claim("w2", [], 1, later(now, 4), later(now, 60))
    broker.persist("w1", [succeeded(job_id, 1, later(now, 5))])  # w1 again: still not its claim
    assert broker.get(job_id).status == "RUNNING"
    broker.persist("w2", [succeeded(job_id, 2, later(now, 6))])
    job = broker.get(job_id)
    assert (job.status, job.attempts, job.finished_at, job.return_value) == (
        "SUCCESSFUL", 2, later(now, 6), None,
    )  # fmt: skip


def test_reap_fails_a_job_whose_attempts_are_used_up(broker):
    now = timezone.now()
    job_id = _store(broker, max_attempts=1)
    broker.claim("w1", [], 1, now, later(now, 1))
    assert broker.reap(later(now, 1)) == []  # a lease ends after its expiry, not at it
    [reaped] = broker.reap(later(now, 2))
    assert reaped.status == "FAILED"
    job = broker.get(job_id)
    assert (job.status, job.finished_at, job.worker_id) == ("FAILED", later(now, 2), None)
    assert broker.claim("w2", [], 1, later(now, 3), later(now, 60)) == []


def test_heartbeat_extends_the_leases_of_its_own_jobs(broker):
    now = timezone.now()
    mine, theirs = _store(broker), _store(broker)
    broker.claim("w1", [], 1, now, later(now, 5))
    broker.claim("w2", [], 1, now, later(now, 5))
    info = WorkerInfo(id="w1", hostname="h", pid=1, queues=[], concurrency=1, backend="redis", started_at=now)
    broker.heartbeat(info, later(now, 4), later(now, 60))
    assert [r.job_id for r in broker.reap(later(now, 10))] == [theirs]
    assert broker.get(mine).status == "RUNNING"


def test_release_hands_back_without_charging_the_attempt(broker):
    now = timezone.now()
    first, second = _store(broker, available_at=ago(2)), _store(broker, available_at=ago(1))
    broker.claim("w1", [], 2, now, later(now, 60))
    broker.release("w2", [ClaimRef(job_id=first, attempt=1)])  # not w2's claim: nothing happens
    assert broker.get(first).status == "RUNNING"
    broker.release("w1", [ClaimRef(job_id=first, attempt=1), ClaimRef(job_id=second, attempt=1)])
    job = broker.get(first)
    assert (job.status, job.attempts, job.worker_id, job.worker_ids, job.started_at) == (
        "READY", 0, None, [], None,
    )  # fmt: skip
    assert broker.reap(later(now, 120)) == []  # no lease left behind
    # Back at the head of the queue, in their original order.
    assert _ids(broker.claim("w2", [], 2, now, later(now, 60))) == [first, second]


def test_progress_is_kept_only_for_the_current_attempt(broker):
    now = timezone.now()
    job_id = _store(broker)
    broker.claim("w1", [], 1, now, later(now, 60))
    broker.set_progress(ClaimRef(job_id=job_id, attempt=1), {"current": 1})
    broker.set_progress(ClaimRef(job_id=job_id, attempt=2), {"current": 99})
    assert broker.get(job_id).progress == {"current": 1}


def test_workers_are_registered_and_forgotten(broker):
    now = timezone.now()
    info = WorkerInfo(id="w1", hostname="h", pid=1, queues=[], concurrency=2, backend="redis", started_at=now)
    broker.heartbeat(info, now, later(now, 60))
    assert broker.client.hexists(broker.key("workers"), "w1")
    broker.unregister("w1")
    assert not broker.client.hexists(broker.key("workers"), "w1")
    broker.heartbeat(info, ago(2 * 3600), ago(2 * 3600 - 60))
    broker.reap(now)  # a worker silent for over an hour is forgotten
    assert not broker.client.hexists(broker.key("workers"), "w1")


def test_job_round_trips_every_field(broker):
    job = new_job(priority=-7, available_at=later(timezone.now(), 3600), unique_key="k:1")
    broker.enqueue(job)
    stored = broker.get(job.id)
    assert (stored.id, stored.task_path, stored.queue_name, stored.priority) == (
        job.id, job.task_path, job.queue_name, job.priority,
    )  # fmt: skip
    assert (stored.run_after, stored.available_at, stored.enqueued_at) == (
        job.run_after, job.available_at, job.enqueued_at,
    )  # fmt: skip
    assert (stored.max_attempts, stored.retry, stored.unique_key) == (
        job.max_attempts, job.retry, job.unique_key,
    )  # fmt: skip
    assert (stored.status, stored.attempts, stored.errors, stored.progress) == ("READY", 0, [], None)
    assert broker.get("no-such-job") is None
