"""Pruning and schedule slots on Redis: retention per outcome, latest slot kept, exactly once."""

from datetime import timedelta

from django.utils import timezone

from backroom.brokers.base import Outcome
from backroom.compat import task_backends
from backroom.pruning import Retention, prune
from tests import tasks


def finish(store: str, status: str, age: timedelta, count: int = 1) -> list[str]:
    """Enqueue and claim ``count`` jobs, and record them finished ``age`` ago."""
    backend = task_backends[store]
    now = timezone.now()
    for _ in range(count):
        backend.broker.enqueue(backend.new_job(tasks.noop.using(backend=store), (), {}))
    claimed = backend.broker.claim("w", [], count, now, now + timedelta(minutes=1))
    outcomes = [
        Outcome(job_id=j.id, attempt=j.attempts, status=status, finished_at=now - age) for j in claimed
    ]
    backend.broker.persist("w", outcomes)
    return [j.id for j in claimed]


def test_prune_keeps_recent_and_unfinished_jobs(redis_store):
    broker = task_backends[redis_store].broker
    old_success = finish(redis_store, "SUCCESSFUL", timedelta(days=8), count=25)
    recent_success = finish(redis_store, "SUCCESSFUL", timedelta(days=6))
    old_failure = finish(redis_store, "FAILED", timedelta(days=31))
    recent_failure = finish(redis_store, "FAILED", timedelta(days=29))
    ready = tasks.noop.using(backend=redis_store).enqueue().id

    pruned = prune(broker, Retention(batch_size=10), timezone.now())

    assert pruned.jobs == 26
    for job_id in old_success + old_failure:
        assert broker.get(job_id) is None
    for job_id in [*recent_success, *recent_failure, ready]:
        assert broker.get(job_id) is not None


def test_slots_are_recorded_once_and_pruning_keeps_the_latest(redis_store):
    backend = task_backends[redis_store]
    broker = backend.broker
    now = timezone.now().replace(microsecond=0)
    job = backend.new_job(tasks.noop.using(backend=redis_store), (), {})
    slots = [now - timedelta(days=d) for d in (40, 35, 2)]
    served = [broker.enqueue_slot(backend.new_job(tasks.noop.using(backend=redis_store), (), {}), "h", s)
              for s in slots]  # fmt: skip
    assert all(served)
    assert broker.enqueue_slot(job, "h", slots[0]) is None  # taken: nothing stored
    assert broker.get(job.id) is None
    last = broker.last_slots(["h", "never"])
    assert list(last) == ["h"]
    assert (last["h"].slot_at, last["h"].job_id) == (slots[-1], served[-1])

    old = [now - timedelta(days=d) for d in (500, 400)]
    for slot in old:
        broker.enqueue_slot(backend.new_job(tasks.noop.using(backend=redis_store), (), {}), "yearly", slot)
    pruned = prune(broker, Retention(), now)
    # "h": the 40- and 35-day slots go; "yearly": only its older slot goes, its latest stays.
    assert pruned.schedule_runs == 3
    assert broker.last_slots(["h", "yearly"])["yearly"].slot_at == old[-1]
