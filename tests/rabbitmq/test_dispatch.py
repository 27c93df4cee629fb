"""RabbitMQ as the dispatch fabric: publish after commit, the relay, the claim guard, acks, restarts.

The store-parametrized suites (tests/core, tests/conformance) run on the
``rabbitmq`` store too; these tests check what only dispatch through
RabbitMQ does.
"""

import shutil
import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from backroom.brokers.database import DatabaseBroker
from backroom.models import Job
from tests import tasks
from tests.conftest import _skip_without
from tests.support import (
    delete_rabbitmq_queues,
    rabbitmq_in_use,
    rabbitmq_stopped,
    runs,
    store_of,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def rabbitmq(request):
    """The RabbitMQ store's alias, held shared (alone for a test marked ``stops_rabbitmq``); its queues
    are deleted after the test."""
    _skip_without("rabbitmq")
    with rabbitmq_in_use(alone=request.node.get_closest_marker("stops_rabbitmq") is not None):
        yield "rabbitmq"
        delete_rabbitmq_queues()


def waiting_messages(alias: str, queue_name: str = "default", priority: int = 0) -> int:
    """How many messages of a lane wait in RabbitMQ, not handed to any worker."""
    return store_of(alias).broker.rabbitmq.waiting((queue_name, priority))


def fetched_ids(alias: str, queue_name: str = "default", priority: int = 0) -> list[str]:
    """Take every waiting message of a lane (acked): the job ids they carry."""
    rabbitmq = store_of(alias).broker.rabbitmq
    ids = []
    while (delivery := rabbitmq.fetch((queue_name, priority))) is not None:
        ids.append(delivery.job_id)
        rabbitmq.settle([delivery], requeue=None)
    return ids


def test_a_commit_publishes_and_a_rollback_publishes_nothing(rabbitmq):
    record = tasks.record.using(backend=rabbitmq)
    fetched_ids(rabbitmq)  # whatever an earlier test of this process left behind
    with pytest.raises(RuntimeError), transaction.atomic(using=rabbitmq):
        record.enqueue("rolled back", rabbitmq)
        raise RuntimeError("roll back")
    with transaction.atomic(using=rabbitmq):
        kept = record.enqueue("kept", rabbitmq)
        assert waiting_messages(rabbitmq) == 0  # not before the commit
    assert fetched_ids(rabbitmq) == [kept.id]
    job = Job.objects.using(rabbitmq).get()
    assert job.dispatched_for == job.available_at  # the confirmed message is recorded


def test_the_relay_publishes_a_committed_job_whose_publisher_died(rabbitmq, run_worker):
    # The SQL broker stores the row as the RabbitMQ broker does, and publishes nothing: a process
    # that died between the commit and the publish.
    job = store_of(rabbitmq).jobs.new_job(tasks.record.using(backend=rabbitmq), ("orphan", rabbitmq), {})
    DatabaseBroker(rabbitmq).enqueue(job)
    assert run_worker(rabbitmq) == 0
    assert not runs(rabbitmq).exists()  # within the grace its publisher has, the relay leaves it
    later = timezone.now() + timedelta(seconds=3)
    assert run_worker(rabbitmq, clock=lambda: later) == 0
    assert list(runs(rabbitmq).values_list("label", flat=True)) == ["orphan"]
    assert waiting_messages(rabbitmq) == 0


def test_a_second_message_for_a_job_is_acked_and_skipped(rabbitmq, run_worker):
    result = tasks.record.using(backend=rabbitmq).enqueue("once", rabbitmq)
    broker = store_of(rabbitmq).broker
    broker.rabbitmq.publish([(("default", 0), result.id)] * 2)  # a relay raced the publisher, twice
    assert waiting_messages(rabbitmq) == 3
    assert run_worker(rabbitmq) == 0
    assert list(runs(rabbitmq).values_list("label", flat=True)) == ["once"]
    assert waiting_messages(rabbitmq) == 0


def test_a_message_is_acked_once_the_outcome_is_stored_and_redelivered_if_the_worker_is_lost(rabbitmq):
    result = tasks.record.using(backend=rabbitmq).enqueue("held", rabbitmq)
    broker = store_of(rabbitmq).broker
    now = timezone.now()
    held = broker.claim("w1", ["default"], 1, now, now + timedelta(seconds=60))
    assert [job.id for job in held] == [result.id]
    assert waiting_messages(rabbitmq) == 0  # handed to this worker, unacked
    broker.reset_connection()  # the worker's connection is lost
    wait_until(lambda: waiting_messages(rabbitmq) == 1, timeout=10, what="the message back in its queue")
    # Another worker gets the message; the claim guard sees the job held, and acks it.
    assert broker.claim("w2", ["default"], 1, now, now + timedelta(seconds=60)) == []
    assert waiting_messages(rabbitmq) == 0
    assert broker.get(result.id).worker_id == "w1"


def test_a_handed_back_job_gets_its_message_back(rabbitmq):
    result = tasks.record.using(backend=rabbitmq).enqueue("back", rabbitmq)
    broker = store_of(rabbitmq).broker
    now = timezone.now()
    (job,) = broker.claim("w1", ["default"], 1, now, now + timedelta(seconds=60))
    broker.release("w1", [_claim_of(job)])
    wait_until(lambda: waiting_messages(rabbitmq) == 1, timeout=10, what="the message back in its queue")
    (again,) = broker.claim("w2", ["default"], 1, now, now + timedelta(seconds=60))
    assert again.id == result.id


def _claim_of(job):
    from backroom.brokers.contract import ClaimRef

    return ClaimRef(job_id=job.id, attempt=job.next_attempt, queue_name=job.queue_name)


def test_higher_priorities_are_fetched_first_from_their_own_quorum_queues(rabbitmq):
    record = tasks.record.using(backend=rabbitmq)
    low = record.using(priority=-5).enqueue("low", rabbitmq)
    high = record.using(priority=7).enqueue("high", rabbitmq)
    broker = store_of(rabbitmq).broker
    now = timezone.now()
    first = broker.claim("w1", [], 1, now, now + timedelta(seconds=60))
    second = broker.claim("w1", [], 1, now, now + timedelta(seconds=60))
    assert [job.id for job in first + second] == [high.id, low.id]


@pytest.mark.stops_rabbitmq
@pytest.mark.skipif(
    shutil.which("rabbitmqctl") is None, reason="no rabbitmqctl: RabbitMQ cannot be restarted"
)
def test_a_rabbitmq_restart_mid_run_loses_no_job(rabbitmq, worker_process):
    record = tasks.record.using(backend=rabbitmq)
    labels = [f"before-{i}" for i in range(20)]
    ids = [record.enqueue(label, rabbitmq).id for label in labels]
    worker = worker_process("--backend", rabbitmq, "--concurrency", "2")
    wait_until(lambda: runs(rabbitmq).count() >= 5, timeout=30, what="the worker running jobs")
    with rabbitmq_stopped():
        # Enqueued while RabbitMQ is down: committed, their publish fails, the relay publishes them.
        labels += [f"during-{i}" for i in range(10)]
        ids += [record.enqueue(label, rabbitmq).id for label in labels[-10:]]
    labels += [f"after-{i}" for i in range(10)]
    ids += [record.enqueue(label, rabbitmq).id for label in labels[-10:]]
    wait_until(lambda: runs(rabbitmq).count() >= 40, timeout=90, what=f"every job run:\n{worker.output()}")
    successful = Job.objects.using(rabbitmq).filter(id__in=ids, status="SUCCESSFUL")
    wait_until(lambda: successful.count() == 40, timeout=30, what="every outcome written")
    assert sorted(runs(rabbitmq).values_list("label", flat=True)) == sorted(labels)  # each exactly once


@pytest.mark.stops_rabbitmq
@pytest.mark.skipif(
    shutil.which("rabbitmqctl") is None, reason="no rabbitmqctl: RabbitMQ cannot be restarted"
)
def test_the_first_enqueue_after_a_rabbitmq_restart_publishes_at_once(rabbitmq):
    """The process's connection from before the restart fails at its first use: the enqueue publishes
    again on a new one instead of leaving its job to the relay (seconds later)."""
    record = tasks.record.using(backend=rabbitmq)
    record.enqueue("before", rabbitmq)  # this thread's connection, made before the restart
    with rabbitmq_stopped():
        pass
    after = record.enqueue("after", rabbitmq)
    job = Job.objects.using(rabbitmq).get(id=after.id)
    assert job.dispatched_for == job.available_at
    assert after.id in fetched_ids(rabbitmq)


def test_a_claim_that_began_before_the_enqueue_holds_the_job_its_message_names(rabbitmq):
    """Found by the chaos run: judged by the claim's start, the job was not yet due and its message was
    dropped; the publisher then recorded the message as delivered, and the job waited forever."""
    broker = store_of(rabbitmq).broker
    began = timezone.now()
    result = tasks.record.using(backend=rabbitmq).enqueue("late", rabbitmq)
    held = broker.claim("w1", ["default"], 1, began, began + timedelta(seconds=60))
    assert [job.id for job in held] == [result.id]


def test_a_late_publisher_never_marks_a_message_a_worker_dropped(rabbitmq):
    from backroom.brokers.rabbitmq.broker import FORGOTTEN

    job = store_of(rabbitmq).jobs.new_job(tasks.record.using(backend=rabbitmq), ("dropped", rabbitmq), {})
    broker = store_of(rabbitmq).broker
    DatabaseBroker(rabbitmq).enqueue(job)
    broker._forget([job.id])  # a worker took the message, could not run the job yet, and dropped it
    broker._mark_dispatched([(job.id, job.available_at)], fresh=True)  # the publisher's late record
    assert Job.objects.using(rabbitmq).get().dispatched_for == FORGOTTEN  # so the relay publishes it again


def test_a_job_taken_back_from_a_lost_worker_is_published_again(rabbitmq, run_worker):
    result = tasks.record.using(backend=rabbitmq).enqueue("lost", rabbitmq)
    broker = store_of(rabbitmq).broker
    now = timezone.now()
    (job,) = broker.claim("w1", ["default"], 1, now, now + timedelta(seconds=60))
    broker.reset_connection()  # the worker dies: its message comes back, and is dropped (the job is held)
    wait_until(lambda: waiting_messages(rabbitmq) == 1, timeout=10, what="the message back in its queue")
    assert broker.claim("w2", ["default"], 1, now, now + timedelta(seconds=60)) == []
    broker.release("w1", [_claim_of(job)], lost=True)  # another worker takes the job back
    assert run_worker(rabbitmq) == 0
    assert list(runs(rabbitmq).values_list("label", flat=True)) == ["lost"]
    assert broker.get(result.id).orphaned == 1


def test_a_job_taken_back_from_a_live_worker_is_held_again_when_its_message_returns(rabbitmq):
    """Found by the chaos run: the worker dropped the new message because it still counted the job as
    its own, and the job, recorded as published, waited forever."""
    result = tasks.record.using(backend=rabbitmq).enqueue("slow worker", rabbitmq)
    broker = store_of(rabbitmq).broker
    now = timezone.now()
    (job,) = broker.claim("w1", ["default"], 1, now, now + timedelta(seconds=60))

    def reaper() -> None:  # another worker, when w1's lease ran out while w1 lived on
        try:
            broker.release("w1", [_claim_of(job)], lost=True)
        finally:
            connections.close_all()

    thread = threading.Thread(target=reaper)
    thread.start()
    thread.join()
    again = broker.claim("w1", ["default"], 1, now, now + timedelta(seconds=60))
    assert [held.id for held in again] == [result.id]
