"""Worker processes on Redis: shared claims, and idle workers woken by enqueue."""

import signal
import threading
import time

from backroom.compat import TaskResultStatus
from tests import tasks
from tests.support import redis_of, runs, store_of, wait_until, worker_count


def _successful(alias, queue="default"):
    redis = redis_of(alias)
    return redis.client.zcard(redis.keys.of_queue(queue, "successful"))


def test_two_workers_never_run_a_job_twice(redis_store, worker_process):
    count = 400
    workers = [worker_process("--backend", redis_store, "--concurrency", "4") for _ in range(2)]
    wait_until(lambda: worker_count(redis_store) == 2, what="both workers to register")
    task = tasks.record.using(backend=redis_store)
    for i in range(count):
        task.enqueue(f"job-{i}", "default")
    wait_until(lambda: _successful(redis_store) == count, timeout=120, what="every job to succeed")
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
    redis = redis_of(redis_store)
    wait_until(lambda: worker_count(redis_store) == 1, what="the worker to register")
    wait_until(lambda: redis.client.pubsub_numsub(redis.keys.channel)[0][1] == 1, what="it to listen")
    result = tasks.record.using(backend=redis_store).enqueue("woken", "default")
    # With a 60 s poll interval, only the published wake-up can start the job in time.
    wait_until(lambda: runs(redis_store).filter(label="woken").exists(), timeout=10)
    worker.send(signal.SIGTERM)
    assert worker.wait() == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_listen_reports_the_queue_within_milliseconds(redis_store):
    broker, redis = store_of(redis_store).broker, redis_of(redis_store)
    woken: list[tuple[str, float]] = []
    stop = threading.Event()
    listener = threading.Thread(
        target=broker.listen, args=(lambda q: woken.append((q, time.monotonic())), stop)
    )
    listener.start()
    try:
        wait_until(lambda: redis.client.pubsub_numsub(redis.keys.channel)[0][1] == 1)
        started = time.monotonic()
        tasks.noop.using(backend="redis", queue_name="emails").enqueue()
        wait_until(lambda: woken, timeout=10)
    finally:
        stop.set()
        listener.join()
    [(queue, at)] = woken
    assert queue == "emails"
    assert at - started < 1.0  # in practice about a millisecond; generous for a loaded machine
