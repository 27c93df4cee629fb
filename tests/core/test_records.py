"""JobRecord.evolve: the worker's copy of a record with changes, which must equal dataclasses.replace's."""

from dataclasses import fields, replace
from datetime import UTC, datetime

import pytest

from backroom.jobs.records import JobRecord, JobStatus

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def a_job() -> JobRecord:
    return JobRecord(
        id="0193", task_path="tests.tasks.add", queue_name="default", priority=0, status=JobStatus.READY,
        args=[1, 2], kwargs={}, run_after=None, available_at=NOW, enqueued_at=NOW, started_at=None,
        last_attempted_at=None, finished_at=None, attempts=0, max_attempts=3, timeout_seconds=None,
        retry={}, unique_key=None, worker_id=None, worker_ids=[], errors=[], return_value=None, progress=None,
    )  # fmt: skip


def test_evolve_makes_what_replace_makes_whatever_field_changes():
    job = a_job()
    changed = {field.name: f"new {field.name}" for field in fields(JobRecord)}
    for name, value in changed.items():
        assert job.evolve(**{name: value}) == replace(job, **{name: value}), name
    assert job.evolve(**changed) == replace(job, **changed)


def test_evolve_leaves_the_original_as_it_was():
    job = a_job()
    running = job.evolve(status=JobStatus.RUNNING, attempts=1, worker_ids=["w1"])
    assert (running.status, running.attempts, running.worker_ids) == (JobStatus.RUNNING, 1, ["w1"])
    assert (job.status, job.attempts, job.worker_ids) == (JobStatus.READY, 0, [])


def test_evolve_refuses_a_field_a_job_does_not_have():
    with pytest.raises(TypeError, match="no field attempt, colour"):
        a_job().evolve(colour="red", attempt=2)
