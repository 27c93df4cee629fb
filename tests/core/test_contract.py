"""The broker contract, on every store: claim order, guarded writes, leases, taking back, unique keys.

The same tests run against SQLite, PostgreSQL and Redis (and every store the
``store`` fixture adds): a feature of the contract works everywhere or the
store says plainly that it cannot.
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from backroom import RetryPolicy
from backroom.brokers.contract import ClaimRef, Transition, WorkerInfo
from backroom.jobs.records import ErrorRecord, JobStatus, NewJob
from backroom.worker.liveness import take_back
from tests.support import store_of


@pytest.fixture
def broker(store):
    return store_of(store).broker


def ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def later(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)


def _store(broker, *, queue="default", priority=0, available_at=None, max_attempts=3, unique_key=None) -> str:
    """Store a job as a backend would build it, due at ``available_at`` (default: now)."""
    now = timezone.now()
    available_at = available_at or now
    job = NewJob(
        id=broker.new_ids(queue, 1)[0], task_path="tests.tasks.noop", queue_name=queue, priority=priority,
        args="[]", kwargs="{}", run_after=available_at if available_at > now else None,
        available_at=available_at, enqueued_at=min(now, available_at), max_attempts=max_attempts,
        timeout_seconds=None, retry=RetryPolicy().to_json(), unique_key=unique_key,
    )  # fmt: skip
    existing = broker.enqueue(job)
    return job.id if existing is None else existing.id


def _ids(jobs):
    return [job.id for job in jobs]


def _start(broker, worker, job, at, queue="default"):
    t = Transition(job_id=job, queue_name=queue, attempt=1, status=JobStatus.RUNNING, started_at=at)
    assert broker.record(worker, [t]) == set()


def _end(broker, worker, job, attempt, status, at, queue="default", **fields):
    t = Transition(job_id=job, queue_name=queue, attempt=attempt, status=status, finished_at=at, **fields)
    return broker.record(worker, [t])


def _error(message="x") -> ErrorRecord:
    return ErrorRecord(exception_class_path="builtins.ValueError", traceback=f"ValueError: {message}\n")


def test_claim_takes_priority_then_age_across_queues(broker):
    b = _store(broker, queue="emails", available_at=ago(60))
    a = _store(broker, queue="default", available_at=ago(50))
    f = _store(broker, queue="default", available_at=ago(40))
    e = _store(broker, queue="reports", priority=-5, available_at=ago(70))
    d = _store(broker, queue="default", priority=10, available_at=ago(30))
    c = _store(broker, queue="emails", priority=10, available_at=ago(20))
    now = timezone.now()
    lease = later(now, 60)
    # Every queue when the worker names none; the batch stops at the limit.
    assert _ids(broker.claim("w1", [], 4, now, lease)) == [d, c, b, a]
    assert _ids(broker.claim("w1", [], 4, now, lease)) == [f, e]
    assert broker.claim("w1", [], 4, now, lease) == []


def test_claim_serves_only_the_named_queues(broker):
    email = _store(broker, queue="emails", priority=100)
    report = _store(broker, queue="reports", priority=50)
    default = _store(broker, queue="default")
    now = timezone.now()
    assert _ids(broker.claim("w1", ["default", "reports"], 10, now, later(now, 60))) == [report, default]
    assert _ids(broker.claim("w1", ["emails"], 10, now, later(now, 60))) == [email]


def test_delayed_job_waits_then_competes_on_priority(broker):
    now = timezone.now()
    delayed = _store(broker, priority=5, available_at=later(now, 30))
    ready = _store(broker, available_at=ago(1))
    assert _ids(broker.claim("w1", [], 10, now, later(now, 60))) == [ready]
    assert broker.claim("w1", [], 10, later(now, 29), later(now, 90)) == []
    assert _ids(broker.claim("w1", [], 10, later(now, 30), later(now, 90))) == [delayed]


def test_a_retry_waits_for_its_backoff_and_counts_its_attempts(broker):
    job_id = _store(broker)
    now = timezone.now()
    broker.claim("w1", [], 1, now, later(now, 60))
    _start(broker, "w1", job_id, now)
    retry_at = later(now, 10)
    assert (
        _end(broker, "w1", job_id, 1, JobStatus.READY, None, error=_error(), available_at=retry_at) == set()
    )
    job = broker.get(job_id)
    assert (job.status, job.available_at, job.worker_id, job.finished_at) == ("READY", retry_at, None, None)
    assert [e.traceback for e in job.errors] == ["ValueError: x\n"]
    assert broker.claim("w1", [], 1, later(now, 9), later(now, 60)) == []
    [again] = broker.claim("w2", [], 1, retry_at, later(now, 60))
    assert (again.attempts, again.next_attempt, again.worker_ids) == (1, 2, ["w1"])


def test_writes_of_a_worker_that_lost_its_claim_change_nothing(broker):
    job_id = _store(broker)
    now = timezone.now()
    broker.claim("w1", [], 1, now, later(now, 1))
    _start(broker, "w1", job_id, now)
    [reaped] = take_back(broker, broker.expired(later(now, 2), 10), later(now, 2))
    assert (reaped.job_id, reaped.worker_id, reaped.status) == (job_id, "w1", JobStatus.READY)
    assert _end(broker, "w1", job_id, 1, JobStatus.SUCCESSFUL, later(now, 3)) == {job_id}  # too late
    job = broker.get(job_id)
    assert (job.status, job.attempts, job.orphaned) == ("READY", 1, 1)
    assert job.errors[0].traceback == (
        "backroom.exceptions.WorkerLost: worker lost while running: w1 stopped during attempt 1 of 3.\n"
    )

    broker.claim("w2", [], 1, later(now, 4), later(now, 60))
    assert _end(broker, "w1", job_id, 1, JobStatus.SUCCESSFUL, later(now, 5)) == {job_id}  # not w1's claim
    started = Transition(
        job_id=job_id, queue_name="default", attempt=2, status=JobStatus.SUCCESSFUL, started_at=later(now, 5),
        finished_at=later(now, 6), return_value="null",
    )  # fmt: skip
    assert broker.record("w2", [started]) == set()
    job = broker.get(job_id)
    assert (job.status, job.attempts, job.finished_at, job.worker_ids) == (
        "SUCCESSFUL", 2, later(now, 6), ["w1", "w2"],
    )  # fmt: skip


def test_taking_back_fails_a_started_job_whose_attempts_are_used_up(broker):
    job_id = _store(broker, max_attempts=1)
    now = timezone.now()
    broker.claim("w1", [], 1, now, later(now, 1))
    _start(broker, "w1", job_id, now)
    assert broker.expired(later(now, 1), 10) == []  # a lease ends after its expiry, not at it
    [reaped] = take_back(broker, broker.expired(later(now, 2), 10), later(now, 2))
    assert reaped.status == JobStatus.FAILED
    job = broker.get(job_id)
    assert (job.status, job.finished_at, job.worker_id) == ("FAILED", later(now, 2), None)
    assert broker.claim("w2", [], 1, later(now, 3), later(now, 60)) == []


def test_a_dead_worker_s_jobs_are_found_before_their_lease_ends(broker):
    job_id = _store(broker)
    now = timezone.now()
    broker.claim("w-dead", [], 1, now, later(now, 3600))
    assert broker.expired(now, 10) == []
    [held] = broker.expired(now, 10, dead_workers=["w-dead"])
    assert (held.job_id, held.owner, held.status, held.attempts) == (job_id, "w-dead", JobStatus.READY, 0)


def test_heartbeat_extends_the_leases_of_its_own_jobs(broker):
    mine, theirs = _store(broker), _store(broker)
    now = timezone.now()
    broker.claim("w1", [], 1, now, later(now, 5))
    broker.claim("w2", [], 1, now, later(now, 5))
    info = WorkerInfo(id="w1", hostname="h", pid=1, queues=[], concurrency=1, backend="b", started_at=now)
    held = [ClaimRef(job_id=job_id, attempt=1, queue_name="default") for job_id in (mine, theirs)]
    broker.heartbeat(info, later(now, 4), later(now, 60), held)
    assert [h.job_id for h in broker.expired(later(now, 10), 10)] == [theirs]  # not w1's to extend
    assert broker.get(mine).worker_id == "w1"


def test_heartbeat_leaves_a_job_its_worker_does_not_know_to_run_out(broker):
    """As after a Redis failover that lost the worker's outcome: the store says w1 holds the job,
    w1 does not know it; it must come back when its lease runs out, not be held while w1 lives."""
    job_id = _store(broker)
    now = timezone.now()
    broker.claim("w1", [], 1, now, later(now, 5))
    info = WorkerInfo(id="w1", hostname="h", pid=1, queues=[], concurrency=1, backend="b", started_at=now)
    broker.heartbeat(info, later(now, 4), later(now, 60), [])
    assert [h.job_id for h in broker.expired(later(now, 10), 10)] == [job_id]


def test_release_hands_back_without_charging_the_attempt(broker):
    first, second = _store(broker, available_at=ago(2)), _store(broker, available_at=ago(1))
    now = timezone.now()
    broker.claim("w1", [], 2, now, later(now, 60))
    _start(broker, "w1", first, now)
    claims = [
        ClaimRef(job_id=first, attempt=1, queue_name="default", started=True),
        ClaimRef(job_id=second, attempt=1, queue_name="default"),
    ]
    broker.release("w2", claims)  # not w2's claims: nothing happens
    assert broker.get(first).status == "RUNNING"
    broker.release("w1", claims)
    job = broker.get(first)
    assert (job.status, job.attempts, job.worker_id, job.worker_ids, job.started_at) == (
        "READY", 0, None, [], None,
    )  # fmt: skip
    assert broker.get(second).worker_id is None
    assert broker.expired(later(now, 120), 10) == []  # no lease left behind
    # Back at the head of the queue, in their original order.
    assert _ids(broker.claim("w2", [], 2, now, later(now, 60))) == [first, second]


def test_progress_is_kept_only_for_the_current_attempt(broker):
    job_id = _store(broker)
    now = timezone.now()
    broker.claim("w1", [], 1, now, later(now, 60))
    broker.set_progress(
        ClaimRef(job_id=job_id, attempt=1, queue_name="default"), '{"current":0}'
    )  # not started yet
    assert broker.get(job_id).progress == {"current": 0}
    _start(broker, "w1", job_id, now)
    broker.set_progress(ClaimRef(job_id=job_id, attempt=1, queue_name="default"), '{"current":1}')
    broker.set_progress(ClaimRef(job_id=job_id, attempt=2, queue_name="default"), '{"current":99}')
    assert broker.get(job_id).progress == {"current": 1}
    _end(broker, "w1", job_id, 1, JobStatus.READY, None, error=_error(), available_at=now)
    assert broker.get(job_id).progress is None  # a retry starts afresh


def test_workers_are_registered_and_forgotten(store, broker):
    now = timezone.now()
    info = WorkerInfo(id="w1", hostname="h", pid=1, queues=[], concurrency=2, backend="b", started_at=now)
    broker.heartbeat(info, now, later(now, 60))
    inspector = store_of(store).inspector
    assert [w.id for w in inspector.workers()] == ["w1"]
    assert [w.id for w in broker.silent_workers(later(now, 1))] == ["w1"]
    assert broker.silent_workers(now) == []
    broker.unregister("w1")
    assert inspector.workers() == []
    broker.heartbeat(info, ago(2 * 3600), ago(2 * 3600 - 60))
    broker.forget_workers(ago(3600))
    assert inspector.workers() == []


def test_job_round_trips_every_field(broker):
    job_id = _store(broker, priority=-7, available_at=later(timezone.now(), 3600), unique_key="k:1")
    stored = broker.get(job_id)
    assert (stored.id, stored.task_path, stored.queue_name, stored.priority) == (
        job_id, "tests.tasks.noop", "default", -7,
    )  # fmt: skip
    assert stored.run_after == stored.available_at > stored.enqueued_at
    assert (stored.max_attempts, stored.retry, stored.unique_key) == (3, RetryPolicy().to_json(), "k:1")
    assert (stored.status, stored.attempts, stored.errors, stored.progress, stored.defect) == (
        "READY", 0, [], None, None,
    )  # fmt: skip
    assert broker.get("no-such-job") is None
    assert broker.get("00000000-0000-7000-8000-000000000000") is None


def test_an_active_unique_key_returns_the_job_holding_it(broker):
    first = _store(broker, unique_key="report:1")
    assert _store(broker, unique_key="report:1") == first  # READY
    assert _store(broker, unique_key="report:2") != first  # another key is free
    now = timezone.now()
    broker.claim("w1", [], 10, now, later(now, 1))
    _start(broker, "w1", first, now)
    assert _store(broker, unique_key="report:1") == first  # RUNNING
    take_back(broker, broker.expired(later(now, 2), 10), later(now, 2))
    assert broker.get(first).status == "READY"  # taken back for another attempt: still active
    assert _store(broker, unique_key="report:1") == first


@pytest.mark.parametrize("status", [JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_finished_job_frees_its_unique_key(broker, status):
    job = _store(broker, unique_key="sync")
    now = timezone.now()
    broker.claim("w1", [], 1, now, later(now, 60))
    _start(broker, "w1", job, now)
    error = None if status == JobStatus.SUCCESSFUL else _error()
    assert _end(broker, "w1", job, 1, status, now, error=error) == set()
    assert broker.get(job).status == status
    replacement = _store(broker, unique_key="sync")
    assert replacement != job
    assert broker.get(replacement).status == "READY"


def test_a_retry_keeps_the_unique_key(broker):
    job = _store(broker, unique_key="k")
    now = timezone.now()
    broker.claim("w1", [], 1, now, later(now, 60))
    _start(broker, "w1", job, now)
    _end(broker, "w1", job, 1, JobStatus.READY, None, error=_error(), available_at=later(now, 60))
    assert _store(broker, unique_key="k") == job
