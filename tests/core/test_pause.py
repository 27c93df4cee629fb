"""Pausing a queue: every worker leaves its jobs waiting (enqueue goes on) until it is resumed."""

import threading

from django.core.management import call_command
from django.utils import timezone

from backroom.backends.stores import store_for
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.core.test_processes import _listening
from tests.support import runs, stored_job, wait_until

#: The stores that push a wake-up to idle workers (the others poll every 0.2 s).
PUSHING = {"pg", "redis", "cluster"}


def listening(store):
    """Whether the store's wake-ups reach a listener now (a wake-up sent before is lost)."""
    if store == "pg":
        return _listening(store)
    if store in PUSHING:
        broker = store_for(store).broker
        client = broker.redis.client
        nodes = {"target_nodes": client.ALL_NODES} if store == "cluster" else {}  # else one random node
        return client.pubsub_numsub(broker.keys.channel, **nodes)[0][1] > 0
    return True


def labels(store):
    return sorted(runs(store).values_list("label", flat=True))


def test_a_paused_queues_jobs_wait_while_other_queues_run_and_run_after_resume(store, run_worker):
    inspector = store_for(store).inspector
    before = tasks.in_emails_queue.using(backend=store).enqueue("email 1", store)
    assert inspector.pause_queue("emails", timezone.now(), by="test")
    assert not inspector.pause_queue("emails", timezone.now(), by="test")  # already paused
    assert inspector.paused_queues() == ["emails"]
    during = tasks.in_emails_queue.using(backend=store).enqueue("email 2", store)  # enqueue goes on
    tasks.record.using(backend=store).enqueue("default", store)

    assert run_worker(store) == 0
    assert labels(store) == ["default"]
    for result in (before, during):
        job = stored_job(store, result.id)
        assert (job.status, job.attempts, job.worker_id) == ("READY", 0, None)

    assert inspector.resume_queue("emails")
    assert not inspector.resume_queue("emails")  # not paused any more
    assert inspector.paused_queues() == []
    assert run_worker(store) == 0
    assert labels(store) == ["default", "email 1", "email 2"]


def test_a_worker_of_the_paused_queue_alone_stays_idle(store, run_worker):
    result = tasks.in_emails_queue.using(backend=store).enqueue("email", store)
    store_for(store).inspector.pause_queue("emails", timezone.now(), by="test")
    assert run_worker(store, queues=["emails"]) == 0
    assert stored_job(store, result.id).status == "READY"


def test_resume_wakes_an_idle_worker(store):
    inspector = store_for(store).inspector
    inspector.pause_queue("emails", timezone.now(), by="test")
    # A push store's worker would otherwise sleep 30 s; a polling store's polls on its own.
    poll = 30.0 if store in PUSHING else None
    worker = Worker(store_for(store), WorkerOptions(queues=["emails"], poll_interval_seconds=poll))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        tasks.in_emails_queue.using(backend=store).enqueue("email", store)
        wait_until(lambda: worker._held == {} and worker.journal.pending == {}, what="the worker idles")
        wait_until(lambda: listening(store), what="the worker's listener to listen")
        assert not runs(store).exists()
        inspector.resume_queue("emails")
        wait_until(lambda: runs(store).exists(), timeout=5, what="the job runs after resume")
    finally:
        worker.request_stop()
        thread.join(30)


def test_pause_and_resume_verbs_and_status(store, capsys):
    call_command("backroom", "pause", "emails", "default", "--backend", store)
    assert capsys.readouterr().out.splitlines() == [
        "paused emails: its jobs wait until `backroom resume emails`",
        "paused default: its jobs wait until `backroom resume default`",
    ]
    call_command("backroom", "pause", "emails", "--backend", store)
    assert capsys.readouterr().out == "emails was already paused\n"
    assert store_for(store).inspector.paused_queues() == ["default", "emails"]

    tasks.record.using(backend=store).enqueue("waits", store)
    call_command("backroom", "status", "--backend", store)
    out = capsys.readouterr()
    assert "PAUSED" in out.out
    rows = {line.split()[0]: line.split() for line in out.out.splitlines()[2:] if line.strip()}
    assert rows["default"][-1] == "yes" and rows["emails"][-1] == "yes"
    assert "No worker is running" not in out.err  # a paused queue's jobs wait on purpose

    call_command("backroom", "resume", "emails", "default", "--backend", store)
    assert capsys.readouterr().out == "resumed emails\nresumed default\n"
    call_command("backroom", "resume", "emails", "--backend", store)
    assert capsys.readouterr().out == "emails was not paused\n"
    assert store_for(store).inspector.paused_queues() == []
