"""Holding jobs ahead of the free threads, and what readers see of them: READY, uncharged, until started."""

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from backroom.brokers.contract import Transition, record_then_claim
from backroom.exceptions import StoreUnavailable
from backroom.jobs.records import JobStatus
from backroom.worker.liveness import take_back
from backroom.worker.pool import ThreadPool
from backroom.worker.runner import PREFETCH_SECONDS, Worker, WorkerOptions
from tests import tasks
from tests.support import runs, store_of, stored_job, wait_until


def test_a_claim_holds_jobs_ready_and_uncharged(store):
    broker = store_of(store).broker
    job = tasks.add.using(backend=store).enqueue(1, 1)
    now = timezone.now()
    [held] = broker.claim("w1", [], 5, now, now + timedelta(minutes=1))
    stored = stored_job(store, job.id)
    assert (stored.status, stored.attempts, stored.started_at, stored.worker_ids) == ("READY", 0, None, [])
    assert stored.worker_id == "w1"
    assert tasks.add.using(backend=store).get_result(job.id).status == "READY"
    assert broker.claim("w2", [], 5, now, now + timedelta(minutes=1)) == []  # held: nobody else takes it
    assert held.next_attempt == 1


def test_a_start_and_an_end_written_together_charge_one_attempt(store):
    broker = store_of(store).broker
    job = tasks.add.using(backend=store).enqueue(1, 1)
    now = timezone.now()
    [held] = broker.claim("w1", [], 1, now, now + timedelta(minutes=1))
    done = Transition(
        job_id=held.id, queue_name=held.queue_name, attempt=1, status=JobStatus.SUCCESSFUL, started_at=now,
        finished_at=now, return_value="2",
    )  # fmt: skip
    assert broker.record("w1", [done]) == set()
    stored = stored_job(store, job.id)
    assert (stored.status, stored.attempts, stored.return_value, stored.worker_ids) == (
        "SUCCESSFUL",
        1,
        2,
        ["w1"],
    )
    assert stored.started_at == stored.last_attempted_at == now
    assert broker.record("w1", [done]) == {held.id}  # written once: the claim no longer holds


def test_a_late_outcome_after_the_job_was_taken_back_changes_nothing(store):
    broker = store_of(store).broker
    lost = tasks.add.using(backend=store, priority=10, max_attempts=2).enqueue(1, 1)
    kept = tasks.add.using(backend=store).enqueue(2, 2)
    now = timezone.now()
    [first] = broker.claim("w1", [], 1, now, now)  # its lease runs out at once
    [second] = broker.claim("w1", [], 1, now, now + timedelta(minutes=5))
    started = [
        Transition(job_id=j.id, queue_name=j.queue_name, attempt=1, status=JobStatus.RUNNING, started_at=now)
        for j in (first, second)
    ]
    assert broker.record("w1", started) == set()
    later = now + timedelta(seconds=1)
    reaped = take_back(broker, broker.expired(later, 100), later)
    assert [(r.job_id, r.status, r.started) for r in reaped] == [(lost.id, JobStatus.READY, True)]

    finished = [
        Transition(
            job_id=j.id,
            queue_name=j.queue_name,
            attempt=1,
            status=JobStatus.SUCCESSFUL,
            finished_at=now,
            return_value="2",
        )
        for j in (first, second)
    ]
    assert broker.record("w1", finished) == {lost.id}
    assert stored_job(store, kept.id).status == "SUCCESSFUL"
    late = stored_job(store, lost.id)
    assert (late.status, late.return_value, late.worker_id, late.orphaned) == ("READY", None, None, 1)
    assert [e.exception_class_path for e in late.errors] == ["backroom.exceptions.WorkerLost"]


def test_a_lost_worker_s_unstarted_jobs_come_back_uncharged(store):
    broker = store_of(store).broker
    job = tasks.add.using(backend=store).enqueue(1, 1)
    now = timezone.now()
    broker.claim("w1", [], 1, now, now)
    later = now + timedelta(seconds=1)
    [reaped] = take_back(broker, broker.expired(later, 100), later)
    assert (reaped.job_id, reaped.started) == (job.id, False)
    back = stored_job(store, job.id)
    assert (back.status, back.attempts, back.errors, back.worker_id, back.started_at) == (
        "READY",
        0,
        [],
        None,
        None,
    )
    assert back.orphaned == 1  # its worker died holding it: it runs alone from now on


def test_a_better_job_claimed_later_goes_before_those_claimed_ahead(sql_store):
    broker = store_of(sql_store).broker

    def claim():
        now = timezone.now()
        return broker.claim("w1", [], 10, now, now + timedelta(minutes=1))

    for _ in range(2):
        tasks.add.using(backend=sql_store).enqueue(1, 1)
    ahead = claim()
    tasks.add.using(backend=sql_store, priority=50).enqueue(2, 2)
    better = claim()
    pool = ThreadPool(1, execute=None, timed_out=None, crashed=None, events=None)  # type: ignore[arg-type]
    pool.submit(ahead, 0.0)
    pool.submit(better, 0.0)
    assert [job.priority for job in pool.take_waiting()] == [50, 0, 0]


def test_once_one_job_held_ahead_is_stale_every_one_goes_back(sql_store):
    """A later claim's jobs may rank below the stale ones: kept, they would run before those came back."""
    task = tasks.add.using(backend=sql_store)
    ids = [task.enqueue(i, i).id for i in range(3)]
    broker = store_of(sql_store).broker
    now = timezone.now()
    claimed = broker.claim("w1", [], 3, now, now + timedelta(minutes=1))
    pool = ThreadPool(1, execute=None, timed_out=None, crashed=None, events=None)  # type: ignore[arg-type]
    pool.submit(claimed[:1], 10.0)  # held ahead at 10 s
    pool.submit(claimed[1:], 20.0)  # held by a later claim at 20 s
    assert pool.take_waiting(stale_before=5.0) == []  # none stale yet: all stay
    assert [job.id for job in pool.take_waiting(stale_before=15.0)] == ids  # one stale: all, in order
    assert not pool.has_waiting()


def test_jobs_held_ahead_are_handed_back_unstarted_on_stop(store, tmp_path):
    gate = tmp_path / "gate"
    quick = tasks.noop.using(backend=store, priority=100).enqueue()
    blocker = tasks.wait_for_file.using(backend=store, priority=50).enqueue(str(gate), "block", store)
    ahead = [tasks.add.using(backend=store).enqueue(i, i).id for i in range(3)]
    worker = Worker(store_of(store), WorkerOptions(concurrency=1, prefetch=4, burst=True))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        # The quick job shows jobs are short, so the next claim takes more than the one thread.
        wait_until(lambda: runs(store).filter(label="block:started").exists(), what="the blocker to start")
        wait_until(lambda: stored_job(store, blocker.id).status == "RUNNING", what="the blocker RUNNING")
        for job_id in ahead:  # held or handed back, never shown started
            job = stored_job(store, job_id)
            assert (job.status, job.attempts, job.started_at) == ("READY", 0, None)
        worker.request_stop()
    finally:
        gate.touch()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert stored_job(store, quick.id).status == "SUCCESSFUL"
    assert stored_job(store, blocker.id).status == "SUCCESSFUL"
    for job_id in ahead:
        job = stored_job(store, job_id)
        assert (job.status, job.attempts, job.errors, job.started_at, job.worker_id) == (
            "READY",
            0,
            [],
            None,
            None,
        )


def test_a_worker_with_one_thread_never_shows_two_jobs_running(store):
    """Sampled while one thread drains short and slower jobs: RUNNING means running, one at a time."""
    for i in range(40):
        if i % 10 == 0:
            tasks.sleep_then_record.using(backend=store).enqueue(0.08, f"slow-{i}", store)
        else:
            tasks.add.using(backend=store).enqueue(i, i)
    worker = Worker(store_of(store), WorkerOptions(concurrency=1, prefetch=32, burst=True))
    thread = threading.Thread(target=worker.run)
    thread.start()
    inspector = store_of(store).inspector
    most = 0
    try:
        while thread.is_alive():
            running = sum(q.running for q in inspector.queue_stats(timezone.now()))
            most = max(most, running)
    finally:
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert 1 == most, f"{most} jobs RUNNING at once with one thread"
    assert runs(store).filter(label__startswith="slow-").count() == 4


def test_a_better_job_waits_for_one_running_job_not_for_those_held_ahead(store, tmp_path):
    """Jobs held ahead that wait longer than PREFETCH_SECONDS go back: a later, better job runs next."""
    gate = tmp_path / "gate"
    for i in range(8):  # quick jobs first: they make the worker hold the next ones ahead
        tasks.record.using(backend=store, priority=10).enqueue(f"quick-{i}", store)
    slow = tasks.wait_for_file.using(backend=store, priority=5).enqueue(str(gate), "slow", store)
    after = [tasks.record.using(backend=store).enqueue(f"after-{i}", store).id for i in range(8)]
    worker = Worker(store_of(store), WorkerOptions(concurrency=1, prefetch=32, burst=True))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        # Its start written: so are the quick jobs' outcomes before it, the last that let the worker hold
        # jobs ahead again. Only then is a hand-back final (else "after" jobs may be held anew, and run
        # first: held less than PREFETCH_SECONDS before "urgent", as promised).
        wait_until(lambda: stored_job(store, slow.id).status == "RUNNING", what="the slow job to start")
        wait_until(
            lambda: all(stored_job(store, job_id).worker_id is None for job_id in after),
            timeout=10 * PREFETCH_SECONDS + 5,
            what="the jobs held ahead to be handed back",
        )
        tasks.record.using(backend=store, priority=100).enqueue("urgent", store)
    finally:
        gate.touch()
        thread.join(timeout=30)
    labels = list(runs(store).order_by("id").values_list("label", flat=True))
    slow_ended = labels.index("slow")
    assert labels[slow_ended + 1] == "urgent", labels


class _EnqueueDuringClaim:
    """The worker's broker, with a job enqueued (and its wake-up delivered) while a claim runs."""

    def __init__(self, worker, alias):
        self.broker, self.worker, self.alias = worker.broker, worker, alias
        self.enqueued = None

    def __getattr__(self, name):
        return getattr(self.broker, name)

    def claim(self, *args, **kwargs):
        jobs = self.broker.claim(*args, **kwargs)
        if self.enqueued is None:  # committed after the claim looked: only the wake-up tells
            self.enqueued = tasks.add.using(backend=self.alias).enqueue(3, 4)
            self.worker._notified(self.enqueued.task.queue_name)
        return jobs


def test_a_wake_up_during_a_claim_is_not_lost(store):
    # No listener and no poll for an hour: only the wake-up can make the worker claim again.
    worker = Worker(store_of(store), WorkerOptions(poll_interval_seconds=3600, scheduler=False))
    worker.broker = _EnqueueDuringClaim(worker, store)
    worker.run_once()  # the claim finds nothing; a job arrives meanwhile
    job_id = worker.broker.enqueued.id
    assert stored_job(store, job_id).worker_id is None
    worker.run_once()
    assert stored_job(store, job_id).worker_id == worker.id


def test_a_wake_up_just_after_a_pass_reads_the_time_is_not_lost(store):
    """The claim that clears a wake-up reads the time after it: the job woken for is due by then."""
    enqueued = []

    def clock():
        now = timezone.now()
        if worker_ready and not enqueued:  # the job is enqueued, and its wake-up arrives, just after now
            enqueued.append(tasks.add.using(backend=store).enqueue(3, 4))
            worker._notified(enqueued[0].task.queue_name)
        return now

    worker_ready = False
    worker = Worker(store_of(store), WorkerOptions(poll_interval_seconds=3600, scheduler=False), clock=clock)
    worker.run_once()  # the first poll: nothing to claim
    worker_ready = True
    worker.run_once()
    assert enqueued, "the pass read the time"
    assert stored_job(store, enqueued[0].id).worker_id == worker.id


def test_a_job_that_runs_alone_waits_for_the_running_ones_then_the_worker_goes_on(
    store, worker_process, tmp_path
):
    """Held behind a running job, a job that runs alone is not handed back as stale, and frees the worker."""
    if store == "rabbitmq":
        pytest.skip(
            "The stand-in for a lost worker claims at a future time, racing the live worker for the job's "
            "one message: by its own clock the live worker finds the job not yet due and drops the message. "
            "tests/rabbitmq/test_dispatch.py covers jobs taken back from lost workers."
        )
    broker = store_of(store).broker
    gate = tmp_path / "gate"
    running = tasks.wait_for_file.using(backend=store).enqueue(str(gate), "running", store)
    worker = worker_process("--backend", store, "--concurrency", "2", "--poll-interval", "0.1")
    wait_until(lambda: stored_job(store, running.id).status == "RUNNING", what="the first job to start")

    # A job a lost worker once held, due now: the worker claims it while the first job still runs.
    soon = timezone.now() + timedelta(seconds=1)
    alone = tasks.record.using(backend=store, run_after=soon).enqueue("alone", store)
    broker.claim("lost-worker", [], 1, soon, soon)
    take_back(broker, broker.expired(soon + timedelta(seconds=1), 10), soon)
    assert stored_job(store, alone.id).orphaned == 1
    worker_id = stored_job(store, running.id).worker_id
    wait_until(lambda: stored_job(store, alone.id).worker_id == worker_id, what="the worker to claim it")

    deadline = time.monotonic() + 10 * PREFETCH_SECONDS
    while time.monotonic() < deadline:  # it waits its turn, held: not handed back as a stale claim
        assert stored_job(store, alone.id).worker_id == worker_id, worker.output()
    gate.touch()
    wait_until(lambda: stored_job(store, alone.id).status == "SUCCESSFUL", what="the job to run alone")
    after = tasks.record.using(backend=store).enqueue("after", store)
    wait_until(lambda: stored_job(store, after.id).status == "SUCCESSFUL", what="the worker to go on")
    assert "runs alone" in worker.output()


def _start_of(job):
    return Transition(
        job_id=job.id,
        queue_name=job.queue_name,
        attempt=1,
        status=JobStatus.RUNNING,
        started_at=timezone.now(),
    )


def test_record_and_claim_writes_the_batch_and_claims_after_it(store):
    broker = store_of(store).broker
    first, second = (tasks.add.using(backend=store).enqueue(1, i).id for i in range(2))
    now = timezone.now()
    [held] = broker.claim("w1", [], 1, now, now + timedelta(minutes=1))
    done = replace(_start_of(held), status=JobStatus.SUCCESSFUL, finished_at=now, return_value="1")

    def claim():
        return broker.claim("w1", [], 5, now, now + timedelta(minutes=1))

    refused, claimed = broker.record_and_claim("w1", [done], claim)
    assert refused == set()
    assert [job.id for job in claimed] == [second]
    assert stored_job(store, first).status == "SUCCESSFUL"


def test_a_claim_failing_after_the_record_leaves_no_outcome_twice_written(store):
    """A database writes both or neither; Redis and RabbitMQ, which write them apart, keep the record and
    say the claim did not run (None)."""
    broker = store_of(store).broker
    job = tasks.add.using(backend=store).enqueue(1, 1)
    now = timezone.now()
    [held] = broker.claim("w1", [], 1, now, now + timedelta(minutes=1))

    def claim():
        raise StoreUnavailable("the store went away during the claim")

    if type(broker).record_and_claim is not record_then_claim:
        with pytest.raises(StoreUnavailable):
            broker.record_and_claim("w1", [_start_of(held)], claim)
        assert stored_job(store, job.id).status == "READY"  # rolled back: the worker writes it again
    else:
        assert broker.record_and_claim("w1", [_start_of(held)], claim) == (set(), None)
        assert stored_job(store, job.id).status == "RUNNING"  # written: the worker must not write it again


class _FailingClaimOnce:
    """The worker's broker, whose first claim made with a batch's record fails."""

    def __init__(self, broker):
        self.broker = broker
        self.failed = False

    def __getattr__(self, name):
        return getattr(self.broker, name)

    def record_and_claim(self, worker_id, transitions, claim):
        if self.failed:
            return self.broker.record_and_claim(worker_id, transitions, claim)
        self.failed = True

        def failing():
            raise StoreUnavailable("the store went away during the claim")

        return self.broker.record_and_claim(worker_id, transitions, failing)


def test_a_draining_worker_whose_claim_failed_claims_again_and_runs_every_job_once(store):
    ids = [tasks.record.using(backend=store).enqueue(f"job-{i}", store).id for i in range(40)]
    # No poll for an hour, and no wake-up after these jobs: only the failed claim's retry claims the rest.
    options = WorkerOptions(concurrency=1, prefetch=4, poll_interval_seconds=3600, scheduler=False)
    worker = Worker(store_of(store), options)
    worker.broker = broker = _FailingClaimOnce(worker.broker)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_until(
            lambda: all(stored_job(store, job_id).status == "SUCCESSFUL" for job_id in ids),
            what="every job to finish",
        )
    finally:
        worker.request_stop()
        thread.join(timeout=30)
    assert broker.failed
    assert sorted(runs(store).values_list("label", flat=True)) == sorted(f"job-{i}" for i in range(40))
