"""Pruning and schedule slots through the broker, on every store: retention per outcome, latest slot kept."""

from datetime import timedelta

from django.utils import timezone

from backroom.brokers.contract import Transition
from backroom.jobs.records import ErrorRecord, JobStatus
from backroom.scheduler.retention import Retention, prune
from tests import tasks
from tests.support import store_of


def finish(alias: str, status: JobStatus, age: timedelta, count: int = 1) -> list[str]:
    """Enqueue and claim ``count`` jobs, and record them finished ``age`` ago."""
    store = store_of(alias)
    for _ in range(count):
        store.broker.enqueue(store.jobs.new_job(tasks.noop.using(backend=alias), (), {}))
    now = timezone.now()
    claimed = store.broker.claim("w", [], count, now, now + timedelta(minutes=1))
    error = None if status == JobStatus.SUCCESSFUL else ErrorRecord(exception_class_path="x.Y", traceback="")
    outcomes = [
        Transition(
            job_id=j.id,
            queue_name=j.queue_name,
            attempt=1,
            status=status,
            started_at=now - age,
            finished_at=now - age,
            error=error,
        )
        for j in claimed
    ]
    assert store.broker.record("w", outcomes) == set()
    return [j.id for j in claimed]


def test_prune_keeps_recent_and_unfinished_jobs(store):
    broker = store_of(store).broker
    old_success = finish(store, JobStatus.SUCCESSFUL, timedelta(days=8), count=25)
    recent_success = finish(store, JobStatus.SUCCESSFUL, timedelta(days=6))
    old_failure = finish(store, JobStatus.FAILED, timedelta(days=31))
    old_cancel = finish(store, JobStatus.CANCELLED, timedelta(days=31))
    recent_failure = finish(store, JobStatus.FAILED, timedelta(days=29))
    ready = tasks.noop.using(backend=store).enqueue().id

    pruned = prune(broker, Retention(batch_size=10), timezone.now())

    assert pruned.jobs == 27
    for job_id in old_success + old_failure + old_cancel:
        assert broker.get(job_id) is None
    for job_id in [*recent_success, *recent_failure, ready]:
        assert broker.get(job_id) is not None


def test_slots_are_recorded_once_and_pruning_keeps_the_latest(store):
    jobs, broker = store_of(store).jobs, store_of(store).broker
    now = timezone.now().replace(microsecond=0)

    def new_job():
        return jobs.new_job(tasks.noop.using(backend=store), (), {})

    slots = [now - timedelta(days=d) for d in (40, 35, 2)]
    served = [broker.enqueue_slot(new_job(), "h", slot) for slot in slots]
    assert all(served)
    taken = new_job()
    assert broker.enqueue_slot(taken, "h", slots[0]) is None  # taken: nothing stored
    assert broker.get(taken.id) is None
    last = broker.last_slots(["h", "never"])
    assert list(last) == ["h"]
    assert (last["h"].slot_at, last["h"].job_id) == (slots[-1], served[-1])

    old = [now - timedelta(days=d) for d in (500, 400)]
    for slot in old:
        broker.enqueue_slot(new_job(), "yearly", slot)
    pruned = prune(broker, Retention(), now)
    # "h": the 40- and 35-day slots go; "yearly": only its older slot goes, its latest stays.
    assert pruned.schedule_runs == 3
    assert broker.last_slots(["h", "yearly"])["yearly"].slot_at == old[-1]
