"""JobRecord.evolve: the worker's copy of a record with changes, which must equal dataclasses.replace's."""

from dataclasses import fields, replace

import pytest

from backroom.jobs.records import JobRecord, JobStatus
from tests.support import job_record


def test_evolve_makes_what_replace_makes_whatever_field_changes():
    job = job_record()
    changed = {field.name: f"new {field.name}" for field in fields(JobRecord)}
    for name, value in changed.items():
        assert job.evolve(**{name: value}) == replace(job, **{name: value}), name
    assert job.evolve(**changed) == replace(job, **changed)


def test_evolve_leaves_the_original_as_it_was():
    job = job_record()
    running = job.evolve(status=JobStatus.RUNNING, attempts=1, worker_ids=["w1"])
    assert (running.status, running.attempts, running.worker_ids) == (JobStatus.RUNNING, 1, ["w1"])
    assert (job.status, job.attempts, job.worker_ids) == (JobStatus.READY, 0, [])


def test_evolve_refuses_a_field_a_job_does_not_have():
    with pytest.raises(TypeError, match="no field attempt, colour"):
        job_record().evolve(colour="red", attempt=2)
