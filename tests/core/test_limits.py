"""Global limits: concurrency and rate, per task, per key and per queue, enforced by the store's claim."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backroom.brokers.contract import Transition, WorkerInfo
from backroom.compat import InvalidTask
from backroom.conf import read_settings
from backroom.jobs.records import JobStatus
from tests import tasks
from tests.support import runs, store_of, stored_job, wait_until

#: Starts a rate limit may let through beyond its count in any window of its period (docs/limits.md).
RATE_TOLERANCE = 1


def spans(store, prefix=""):
    """(label, start, end) of each recorded run, in start order."""
    found = []
    for text in runs(store).values_list("label", flat=True):
        label, start, end = text.rsplit(" ", 2)
        if label.startswith(prefix):
            found.append((label, float(start), float(end)))
    return sorted(found, key=lambda span: span[1])


def most_at_once(found):
    """The most runs that overlapped at any moment."""
    events = sorted([(start, 1) for _, start, _ in found] + [(end, -1) for _, _, end in found])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def claim(store, worker_id, room=10):
    """Claim as a worker does: after a heartbeat, which tells a database store that limits are in use."""
    broker = store_of(store).broker
    now = timezone.now()
    info = WorkerInfo(
        id=worker_id, hostname="h", pid=1, queues=[], concurrency=1, backend=store, started_at=now
    )
    broker.heartbeat(info, now, now + timedelta(minutes=1))
    return broker.claim(worker_id, [], room, now, now + timedelta(minutes=1))


def finish(store, worker_id, job):
    now = timezone.now()
    done = Transition(
        job_id=job.id, queue_name=job.queue_name, attempt=1, status=JobStatus.SUCCESSFUL,
        started_at=now, finished_at=now,
    )  # fmt: skip
    assert store_of(store).broker.record(worker_id, [done]) == set()


# Options, checked at enqueue.


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency_limit": 0}, "concurrency_limit must be a whole number of at least 1, not 0."),
        ({"concurrency_limit": True}, "concurrency_limit must be a whole number of at least 1, not True."),
        ({"rate_limit": "14/d"}, 'rate_limit must be a count of at least 1 per s, m or h, such as "14/s"'),
        ({"rate_limit": 14}, "rate_limit must be a count of at least 1 per s, m or h"),
        ({"limit_key": "a"}, "limit_key 'a' needs a concurrency_limit or a rate_limit on the task"),
        ({"concurrency_limit": 1, "limit_key": ""}, "limit_key must be a string of 1 to 100 characters"),
    ],
)
def test_bad_limit_options_fail_at_enqueue(store, options, message):
    with pytest.raises(InvalidTask) as error:
        tasks.add.using(backend=store, **options).enqueue(1, 2)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (
            {"emails": {"concurrency": 0}},
            "['emails']['concurrency'] must be a whole number of at least 1 (got 0)",
        ),
        ({"emails": {"rate": "5/day"}}, "['emails']['rate'] must be a count of at least 1 per s, m or h"),
        ({"emails": {"burst": 3}}, "'emails' has 'burst'"),
        (["emails"], 'must map queue names to {"concurrency": N, "rate": "N/s|m|h"}'),
    ],
)
def test_bad_queue_limits_are_named(limits, message):
    _, errors = read_settings("default", {"QUEUE_LIMITS": limits})
    assert len(errors) == 1 and errors[0].startswith('TASKS["default"]["OPTIONS"][\'QUEUE_LIMITS\']')
    assert message in errors[0], errors


# What one claim takes.


def test_a_concurrency_limit_holds_jobs_back_ready_and_uncharged_and_claims_past_them(store):
    limited = tasks.two_at_a_time.using(backend=store, priority=10)
    ids = [limited.enqueue(f"l{i}", 0, store).id for i in range(3)]
    other = tasks.add.using(backend=store).enqueue(1, 2)  # lower priority, no limit: never blocked
    first = claim(store, "w-1")
    assert sorted(job.id for job in first) == sorted([*ids[:2], other.id])
    assert store_of(store).broker.held_back_seconds() is not None  # the worker comes back soon
    waiting = stored_job(store, ids[2])
    assert (waiting.status, waiting.attempts, waiting.worker_id) == ("READY", 0, None)

    assert claim(store, "w-2") == []  # another worker: the limit counts every worker's jobs
    finish(store, "w-1", next(job for job in first if job.id == ids[0]))
    assert [job.id for job in claim(store, "w-2")] == [ids[2]]  # at once: the outcome freed a slot


def test_a_limit_key_of_one_is_a_mutex_per_key(store):
    by_key = {
        key: [
            tasks.one_per_key.using(backend=store, limit_key=key).enqueue(key, 0, store).id for _ in range(2)
        ]
        for key in ("a", "b")
    }
    taken = {job.id for job in claim(store, "w-1")}
    assert taken == {by_key["a"][0], by_key["b"][0]}  # one of each key, side by side
    assert claim(store, "w-2") == []


def test_a_rate_limit_spaces_starts(store):
    ids = [tasks.two_per_second.using(backend=store).enqueue(f"r{i}", store).id for i in range(3)]
    assert [job.id for job in claim(store, "w-1")] == ids[:1]
    wait = store_of(store).broker.held_back_seconds()
    assert wait is not None and 0 < wait <= 0.5
    assert claim(store, "w-2") == []
    wait_until(lambda: claim(store, "w-2"), timeout=2, what="the next start the rate allows")


def with_queue_limits(settings, store, limits):
    options = {**settings.TASKS[store]["OPTIONS"], "QUEUE_LIMITS": limits}
    settings.TASKS = {**settings.TASKS, store: {**settings.TASKS[store], "OPTIONS": options}}


def test_a_queue_concurrency_limit_counts_every_job_of_the_queue(store, settings):
    with_queue_limits(settings, store, {"emails": {"concurrency": 2}})
    emails = [tasks.in_emails_queue.using(backend=store).enqueue(f"e{i}", store).id for i in range(3)]
    other = tasks.add.using(backend=store).enqueue(1, 2)  # another queue: not limited
    first = claim(store, "w-1")
    assert sorted(job.id for job in first) == sorted([*emails[:2], other.id])
    assert claim(store, "w-2") == []
    assert stored_job(store, emails[2]).status == "READY"
    finish(store, "w-1", first[0] if first[0].id != other.id else first[1])
    assert [job.id for job in claim(store, "w-2")] == [emails[2]]


def test_a_queue_rate_limit_spaces_starts_of_every_task(store, settings):
    with_queue_limits(settings, store, {"emails": {"rate": "10/s"}})
    emails = [tasks.in_emails_queue.using(backend=store).enqueue(f"e{i}", store).id for i in range(2)]
    assert [job.id for job in claim(store, "w-1")] == emails[:1]
    assert claim(store, "w-2") == []
    assert 0 < store_of(store).broker.held_back_seconds() <= 0.1
    assert [job.id for job in wait_until(lambda: claim(store, "w-2"), timeout=2)] == emails[1:]


def test_a_task_limit_holds_per_queue_on_redis_and_across_queues_on_sql(store):
    """On Redis (one server or a cluster) a limit lives in its queue's hash slot (docs/limits.md)."""
    for queue in ("default", "emails"):
        tasks.one_per_key.using(backend=store, queue_name=queue, limit_key="k").enqueue(queue, 0, store)
    taken = claim(store, "w-1")
    assert len(taken) == (2 if store in ("redis", "cluster") else 1)


# Workers racing, the tasks' own records as the judge.


def start_workers(store, worker_process):
    """Three worker processes of four threads each."""
    for _ in range(3):
        worker_process("--backend", store, "--concurrency", "4", "--poll-interval", "0.2")


def test_concurrency_limit_two_across_three_worker_processes(store, worker_process):
    for i in range(12):
        tasks.two_at_a_time.using(backend=store).enqueue(f"c{i}", 0.3, store)
    start_workers(store, worker_process)
    wait_until(lambda: runs(store).count() == 12, timeout=60, what="12 runs")
    found = spans(store)
    assert most_at_once(found) == 2, found


def test_per_key_mutex_across_three_worker_processes(store, worker_process):
    for _ in range(3):
        for key in ("a", "b"):
            tasks.one_per_key.using(backend=store, limit_key=key).enqueue(key, 0.3, store)
    start_workers(store, worker_process)
    wait_until(lambda: runs(store).count() == 6, timeout=60, what="6 runs")
    assert most_at_once(spans(store, "a")) == 1 and most_at_once(spans(store, "b")) == 1
    assert most_at_once(spans(store)) == 2  # the two keys ran side by side


def test_rate_limit_twenty_per_second_across_three_worker_processes(store, worker_process):
    for i in range(100):
        tasks.twenty_per_second.using(backend=store).enqueue(f"r{i}", store)
    start_workers(store, worker_process)
    wait_until(lambda: runs(store).count() == 100, timeout=90, what="100 runs")
    starts = [start for _, start, _ in spans(store)]
    busiest = max(sum(1 for s in starts if first <= s < first + 1.0) for first in starts)
    assert busiest <= 20 + RATE_TOLERANCE, busiest
    assert starts[-1] - starts[0] >= 4.5


def test_unlimited_claims_stay_one_statement_until_a_limit_is_in_use(sql_store):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    def claim_statements(jobs=1):
        tasks.add.using(backend=sql_store).enqueue(1, 2)
        claim(sql_store, "w-0", room=0)  # a worker's heartbeat first, as before each of its claims
        now = timezone.now()
        with CaptureQueriesContext(connections[sql_store]) as queries:
            taken = store_of(sql_store).broker.claim("w-1", [], 10, now, now + timedelta(minutes=1))
        assert len(taken) == jobs
        return [
            q["sql"] for q in queries if not q["sql"].startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT"))
        ]

    plain = 1 if store_of(sql_store).broker.db.dialect.update_returning else 2
    assert len(claim_statements()) == plain  # the heartbeat found no limit in use
    tasks.two_at_a_time.using(backend=sql_store).enqueue("l", 0, sql_store)
    assert len(claim_statements(jobs=2)) > plain  # now each claim also looks for limited jobs


def test_many_full_keys_never_hide_one_that_may_run(store):
    """More full keys than one claim looks at, all at a higher priority: the free key's job is claimed."""
    for key in range(25):
        task = tasks.one_per_key.using(backend=store, limit_key=f"k{key}", priority=50)
        task.enqueue("busy", 0, store)
        task.enqueue("waits", 0, store)
    held = claim(store, "w-1", room=25)
    held += claim(store, "w-1", room=25)  # a database claim looks at 20 keys at most
    assert len(held) == 25 and len({job.limits.key for job in held}) == 25  # every key is full now
    free = tasks.one_per_key.using(backend=store, limit_key="free").enqueue("free", 0, store)
    assert [job.id for job in claim(store, "w-2")] == [free.id]


def test_a_held_back_job_can_be_cancelled_and_leaves_the_counts(store):
    task = tasks.one_per_key.using(backend=store, limit_key="k")
    task.enqueue("first", 0, store)
    waiting = task.enqueue("second", 0, store)
    assert len(claim(store, "w-1")) == 1
    assert claim(store, "w-2") == []  # the second is held back
    inspector = store_of(store).inspector
    [stats] = inspector.queue_stats(timezone.now())
    assert stats.ready == 2  # the one held ahead by w-1 and the one held back
    assert inspector.cancel(waiting.id, timezone.now(), by="test").value == "cancelled"
    [stats] = inspector.queue_stats(timezone.now())
    assert stats.ready == 1


def test_a_claim_reports_only_what_it_held_back_itself(store):
    tasks.one_per_key.using(backend=store, limit_key="k").enqueue("first", 0, store)
    second = tasks.one_per_key.using(backend=store, limit_key="k").enqueue("second", 0, store)
    claim(store, "w-1")
    assert claim(store, "w-2") == []
    assert store_of(store).broker.held_back_seconds() is not None
    store_of(store).inspector.cancel(second.id, timezone.now(), by="test")  # no limited job waits now
    assert claim(store, "w-2") == []
    assert store_of(store).broker.held_back_seconds() is None  # a burst worker may stop
