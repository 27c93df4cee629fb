"""``no_worker``: a job that is due while no live worker serves its queue says so, on every store."""

import os
import signal
import socket
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from backroom import status_token
from backroom.brokers.contract import Transition, WorkerInfo
from backroom.jobs.records import JobStatus
from backroom.monitoring.health import stale_after
from backroom.status.workers import WorkerWatch
from tests import tasks
from tests.support import db_for, runs, store_of, wait_until, worker_count

from .test_views import _events

pytestmark = pytest.mark.urls("tests.status.urls")


def _register(store: str, *queues: str, beat_ago: timedelta = timedelta(0)) -> WorkerInfo:
    """Register a worker as the worker itself does, by its heartbeat, ``beat_ago`` in the past."""
    now = timezone.now()
    info = WorkerInfo(
        id=f"test-{uuid.uuid4()}", hostname=socket.gethostname(), pid=os.getpid(), queues=list(queues),
        concurrency=1, backend=store, started_at=now - beat_ago,
    )  # fmt: skip
    store_of(store).broker.heartbeat(info, now - beat_ago, now + timedelta(minutes=1))
    return info


def _no_worker(client, result) -> bool:
    return client.get(f"/status/{status_token(result)}/").json()["no_worker"]


def test_a_due_job_with_no_worker_says_so(store, client):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    payload = client.get(f"/status/{status_token(result)}/").json()
    assert (payload["status"], payload["no_worker"]) == ("READY", True)


def test_a_live_worker_of_its_queue_clears_it(store, client):
    result = tasks.in_emails_queue.using(backend=store).enqueue("mail")
    other = _register(store, "reports")
    assert _no_worker(client, result) is True  # a live worker, but not of this queue
    mine = _register(store, "emails")
    assert _no_worker(client, result) is False
    store_of(store).broker.unregister(mine.id)  # what a worker does on a clean exit
    assert _no_worker(client, result) is True
    store_of(store).broker.unregister(other.id)
    _register(store)  # no queues named: it serves every queue
    assert _no_worker(client, result) is False


def test_a_worker_whose_heartbeat_went_quiet_does_not_count(store, client):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    silence = stale_after(store_of(store))
    _register(store, beat_ago=silence + timedelta(seconds=1))  # frozen or killed, lease not yet run out
    assert _no_worker(client, result) is True
    _register(store, beat_ago=silence / 2)
    assert _no_worker(client, result) is False


def test_only_a_job_waiting_for_a_worker_says_so(store, client, run_worker):
    later = tasks.add.using(backend=store, run_after=timezone.now() + timedelta(hours=1)).enqueue(1, 2)
    assert _no_worker(client, later) is False  # not due: no worker could run it yet

    running = tasks.add.using(backend=store).enqueue(2, 3)
    broker, now = store_of(store).broker, timezone.now()
    [claimed] = broker.claim("gone-worker", [], 1, now, now + timedelta(minutes=1))
    start = Transition(
        job_id=claimed.id, queue_name=claimed.queue_name, attempt=1, status=JobStatus.RUNNING, started_at=now
    )
    assert broker.record("gone-worker", [start]) == set()
    payload = client.get(f"/status/{status_token(running)}/").json()
    assert (payload["status"], payload["no_worker"]) == ("RUNNING", False)

    finished = tasks.add.using(backend=store).enqueue(3, 4)
    assert run_worker(store) == 0
    payload = client.get(f"/status/{status_token(finished)}/").json()
    assert (payload["status"], payload["no_worker"]) == ("SUCCESSFUL", False)


def test_the_stream_says_so_too(store, client):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    response = client.get(f"/status/{status_token(result)}/events/")
    first = next(chunk for chunk in response.streaming_content if b"event:" in chunk)
    response.close()
    [(event, payload)] = _events(first)
    assert (event, payload["status"], payload["no_worker"]) == ("status", "READY", True)


def test_a_real_worker_counts_until_its_clean_exit(store, client, tmp_path, worker_process):
    release = tmp_path / "release"
    busy = tasks.wait_for_file.using(backend=store).enqueue(str(release), "busy", db_for(store))
    waiting = tasks.add.using(backend=store).enqueue(1, 2)
    worker = worker_process("--backend", store, "--concurrency", "1", "--prefetch", "0")
    wait_until(lambda: runs(store).filter(label="busy:started").exists(), what="the worker to start a job")
    assert _no_worker(client, waiting) is False  # due, and a live worker serves its queue: it is busy

    worker.send(signal.SIGTERM)  # it finishes the job it runs, then unregisters
    release.touch()
    assert worker.wait() == 0, worker.output()
    assert worker_count(store) == 0
    assert _no_worker(client, waiting) is True
    assert client.get(f"/status/{status_token(busy)}/").json()["status"] == "SUCCESSFUL"


def test_workers_are_listed_once_per_max_age_for_every_stream(store):
    listed = []

    class Counting:
        def __init__(self, inspector):
            self.inspector = inspector

        def workers(self):
            listed.append(1)
            return self.inspector.workers()

    real = store_of(store)
    counted = replace(real, inspector=Counting(real.inspector))
    clock = [0.0]
    watch = WorkerWatch(max_age_seconds=1.0, clock=lambda: clock[0])
    _register(store, "emails")
    for _ in range(10):  # ten streams read within the same second
        assert watch.serves(counted, "emails", timezone.now()) is True
    assert len(listed) == 1
    clock[0] = 1.0
    assert watch.serves(counted, "reports", timezone.now()) is False
    assert len(listed) == 2
