"""Worker processes on Redis: shared claims, and idle workers woken by enqueue."""

import signal
import threading
import time

from backroom.compat import TaskResultStatus, task_backends
from tests import tasks
from tests.support import runs, wait_until, worker_count


def _successful(broker, queue="default"):
    return broker.client.zcard(broker.key("queue", queue, "successful"))


def test_two_workers_never_run_a_job_twice(redis_store, worker_process):
    count = 400
    broker = task_backends[redis_store].broker
    workers = [worker_process("--backend", redis_store, "--concurrency", "4") for _ in range(2)]
    wait_until(lambda: worker_count(redis_store) == 2, what="both workers to register")
    task = tasks.record.using(backend=redis_store)
    for i in range(count):
        task.enqueue(f"job-{i}", "default")
    wait_until(lambda: _successful(broker) == count, timeout=120, what="every job to succeed")
    for worker in workers:
        worker.send(signal.SIGTERM)
        assert worker.wait() == 0, worker.output()
    assert runs(redis_store).count() == count
    assert runs(redis_store).values("label").distinct().count() == count
    # Both workers took part: the claim is shared, not one worker taking all.
    assert runs(redis_store).values("pid").distinct().count() == 2
    assert worker_count(redis_store) == 0


def test_idle_worker_wakes_on_enqueue(redis_store, worker_process):
    worker = worker_process("--backend", redis_store, "--poll-interval", "60")
    broker = task_backends[redis_store].broker
    wait_until(lambda: worker_count(redis_store) == 1, what="the worker to register")
    wait_until(lambda: broker.client.pubsub_numsub(broker.key("enqueued"))[0][1] == 1, what="it to listen")
    result = tasks.record.using(backend=redis_store).enqueue("woken", "default")
    # With a 60 s poll interval, only the published wake-up can start the job in time.
    wait_until(lambda: runs(redis_store).filter(label="woken").exists(), timeout=10)
    worker.send(signal.SIGTERM)
    assert worker.wait() == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_listen_reports_the_queue_within_milliseconds(broker):
    woken: list[tuple[str, float]] = []
    stop = threading.Event()
    listener = threading.Thread(
        target=broker.listen, args=(lambda q: woken.append((q, time.monotonic())), stop)
    )
    listener.start()
    try:
        wait_until(lambda: broker.client.pubsub_numsub(broker.key("enqueued"))[0][1] == 1)
        started = time.monotonic()
        tasks.noop.using(backend="redis", queue_name="emails").enqueue()
        wait_until(lambda: woken, timeout=10)
    finally:
        stop.set()
        listener.join()
    [(queue, at)] = woken
    assert queue == "emails"
    assert at - started < 1.0  # in practice about a millisecond; generous for a loaded machine
