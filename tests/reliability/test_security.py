"""Security: stored rows run only Tasks, and values reach SQL only as parameters."""

import builtins
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from django.utils import timezone

from backroom import RetryPolicy
from backroom.compat import InvalidTask, TaskResultStatus, task_backends
from backroom.models import Job
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.chaos.tasks import echo
from tests.support import runs

INJECTIONS = [
    "'; DROP TABLE backroom_job; --",
    '" OR 1=1 --',
    "default' OR '1'='1",
    "$$; SELECT pg_sleep(10); $$",
    "%s%s%s",
    "%(id)s",
    "\\'; DELETE FROM backroom_job; --",
]
DANGEROUS_MODULES = [os, builtins, shutil, subprocess, sys]


@pytest.fixture
def store(sql_store):
    """These tests edit rows through the ORM or read SQL, so they run on the SQL stores."""
    return sql_store


def _row(store, task_path, args):
    now = timezone.now()
    return Job(
        id=uuid.uuid4(), task_path=task_path, queue_name="default", args=args, available_at=now,
        enqueued_at=now, max_attempts=1, retry=RetryPolicy().to_json(),
    )  # fmt: skip


def test_only_tasks_run_from_a_stored_path(store, tmp_path):
    """Every callable of os, builtins, shutil, subprocess and sys named in a row is refused, never called."""
    sentinel = tmp_path / "pwned"
    shell = f"touch {sentinel}"
    paths = [
        f"{m.__name__}.{name}" for m in DANGEROUS_MODULES for name in dir(m) if not name.startswith("__")
    ]
    paths += [
        "tests.tasks.not_a_task",
        "tests.chaos.tasks.renamed_record",
        "tests.tasks.add.func",
        "tests.tasks",
    ]
    rows = [_row(store, path, [shell]) for path in paths]
    Job.objects.using(store).bulk_create(rows)
    good = tasks.record.using(backend=store).enqueue("good", store)

    worker = Worker(task_backends[store].store, WorkerOptions(burst=True, concurrency=4))
    assert worker.run() == 0  # os._exit, sys.exit, os.kill... would have ended this very process

    assert not sentinel.exists()
    jobs = Job.objects.using(store).filter(id__in=[r.id for r in rows])
    assert jobs.count() == len(paths) > 500
    for job in jobs:
        assert (job.status, job.errors[-1]["exception_class_path"]) == (
            "FAILED",
            "backroom.exceptions.UnknownTask",
        ), job.task_path
    good.refresh()
    assert good.status == TaskResultStatus.SUCCESSFUL


@pytest.mark.parametrize("queue", INJECTIONS)
def test_injection_strings_as_queue_names_are_refused_at_enqueue(store, queue):
    with pytest.raises(InvalidTask, match="Queue name"):
        tasks.record.using(backend=store, queue_name=queue)
    assert not Job.objects.using(store).exists()


def test_injection_strings_reach_sql_only_as_parameters(store, run_worker):
    broker = task_backends[store].store.broker
    outsider = tasks.record.using(backend=store, queue_name="other").enqueue("outsider", store)
    results = [echo.using(backend=store).enqueue(text, key=text) for text in INJECTIONS]
    # As the queues a worker serves, as its id, and as a job id to read.
    assert run_worker(store, queues=tuple(INJECTIONS)) == 0
    assert broker.claim(INJECTIONS[0], INJECTIONS, 10, timezone.now(), timezone.now()) == []
    for text in INJECTIONS:
        assert broker.get(text) is None
    assert runs(store).count() == 0, "a worker serving only the injected queue names ran nothing"
    assert Job.objects.using(store).filter(status="READY").count() == len(INJECTIONS) + 1

    assert run_worker(store) == 0
    for text, result in zip(INJECTIONS, results, strict=True):
        result.refresh()
        assert result.return_value == {"args": [text], "kwargs": {"key": text}}
    outsider.refresh()
    assert outsider.status == TaskResultStatus.SUCCESSFUL
