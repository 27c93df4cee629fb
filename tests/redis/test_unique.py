"""Unique keys on Redis: held while a job is READY or RUNNING, freed when it ends."""

from django.utils import timezone

from backroom.brokers.base import Outcome

from .factory import later, new_job, succeeded


def test_an_active_key_returns_the_job_holding_it(broker):
    now = timezone.now()
    first = new_job(unique_key="report:1")
    assert broker.enqueue(first) is None
    assert broker.enqueue(new_job(unique_key="report:1")).id == first.id  # READY
    assert broker.enqueue(new_job(unique_key="report:2")) is None  # another key is free
    broker.claim("w1", [], 10, now, later(now, 1))
    assert broker.enqueue(new_job(unique_key="report:1")).id == first.id  # RUNNING
    broker.reap(later(now, 2))
    assert broker.get(first.id).status == "READY"  # reaped for another attempt: still active
    assert broker.enqueue(new_job(unique_key="report:1")).id == first.id


def test_success_and_failure_free_the_key(broker):
    now = timezone.now()
    for outcome_status in ("SUCCESSFUL", "FAILED"):
        job = new_job(unique_key="sync")
        assert broker.enqueue(job) is None
        [claimed] = broker.claim("w1", [], 1, now, later(now, 60))
        assert claimed.id == job.id
        if outcome_status == "SUCCESSFUL":
            broker.persist("w1", [succeeded(job.id, 1, now)])
        else:
            error = {"exception_class_path": "builtins.ValueError", "traceback": ""}
            broker.persist(
                "w1", [Outcome(job_id=job.id, attempt=1, status="FAILED", finished_at=now, error=error)]
            )
        assert broker.get(job.id).status == outcome_status
        replacement = new_job(unique_key="sync")
        assert broker.enqueue(replacement) is None, outcome_status
        assert broker.get(replacement.id).status == "READY"
        broker.claim("w1", [], 1, now, later(now, 60))
        broker.persist("w1", [succeeded(replacement.id, 1, now)])


def test_a_retry_keeps_the_key(broker):
    now = timezone.now()
    job = new_job(unique_key="k")
    broker.enqueue(job)
    broker.claim("w1", [], 1, now, later(now, 60))
    error = {"exception_class_path": "builtins.ValueError", "traceback": ""}
    retry = Outcome(
        job_id=job.id, attempt=1, status="READY", finished_at=now, error=error, available_at=later(now, 60)
    )
    broker.persist("w1", [retry])
    assert broker.enqueue(new_job(unique_key="k")).id == job.id
