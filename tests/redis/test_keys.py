"""Every key under the prefix, nothing expiring unless asked, and clean removal.

Redis is shared with other users: the proof that backroom writes nowhere else
runs the whole job life cycle as a Redis ACL user that may only touch keys
and channels under the prefix, so any stray key fails the command.
"""

import os
import secrets
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from backroom import RetryPolicy
from backroom.brokers.contract import ClaimRef
from backroom.brokers.inspection import JobFilter
from backroom.compat import TaskResultStatus, task_backends
from backroom.worker.liveness import take_back
from tests import tasks
from tests.support import delete_redis_keys, redis_of, wait_until


def later(moment, seconds):
    return moment + timedelta(seconds=seconds)


@pytest.fixture
def confined(redis_store, settings):
    """A Redis backend whose connections may only touch keys and channels under its prefix."""
    admin = redis.Redis.from_url(django_settings.REDIS_URL)
    user, password = f"backroom-test-{os.getpid()}", secrets.token_hex(16)
    prefix = f"{django_settings.REDIS_PREFIX}-confined"
    # Every key of the store: "{prefix}:..." and each queue's "{prefix:queue}:...".
    keys, channels = [f"{{{prefix}}}:*", f"{{{prefix}:*"], [f"{{{prefix}}}:*"]
    admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=keys, channels=channels,
        commands=["+@all", "-@dangerous", "+client|setname", "+client|list"],
    )  # fmt: skip
    url = django_settings.REDIS_URL.replace("redis://", f"redis://{user}:{password}@", 1)
    options = {**settings.TASKS[redis_store]["OPTIONS"], "REDIS_URL": url, "KEY_PREFIX": prefix}
    settings.TASKS = {**settings.TASKS, "confined": {**settings.TASKS[redis_store], "OPTIONS": options}}
    try:
        yield "confined"
        delete_redis_keys("confined")
    finally:
        admin.acl_deluser(user)


def test_the_acl_refuses_keys_outside_the_prefix(confined):
    client = redis_of(confined).client
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("outside-the-prefix", 1)
    with pytest.raises(redis.exceptions.ResponseError, match="can't access"):
        client.eval("return redis.call('SET', 'outside-the-prefix', 1)", 0)


def test_a_whole_life_cycle_stays_under_the_prefix(confined, run_worker):
    broker = task_backends[confined].store.broker
    results = [
        tasks.add.using(backend=confined).enqueue(1, 2),
        tasks.add.using(backend=confined, unique_key="u").enqueue(3, 4),
        tasks.add.using(backend=confined, unique_key="u").enqueue(5, 6),
        tasks.with_context.using(backend=confined, queue_name="other").enqueue(2),
        tasks.always_fail.using(backend=confined, retry=RetryPolicy(backoff_seconds=0, jitter=0)).enqueue(
            "x"
        ),
        tasks.add.using(backend=confined, run_after=later(timezone.now(), 3600)).enqueue(0, 0),
    ]
    assert run_worker(confined) == 0  # claims, progress, retries, failures, heartbeat, reap
    statuses = [r.status for r in (broker.get(r.id) for r in results)]
    assert statuses == ["SUCCESSFUL", "SUCCESSFUL", "SUCCESSFUL", "SUCCESSFUL", "FAILED", "READY"]

    now = timezone.now()
    held = tasks.noop.using(backend=confined).enqueue()
    assert [j.id for j in broker.claim("w", [], 1, now, later(now, 1))] == [held.id]
    broker.release("w", [ClaimRef(job_id=held.id, attempt=1, queue_name="default")])
    broker.claim("w", [], 1, now, later(now, 1))
    taken = take_back(broker, broker.expired(later(now, 2), 10), later(now, 2))
    assert [r.job_id for r in taken] == [held.id]
    inspector = task_backends[confined].store.inspector
    assert inspector.queue_stats(now) and inspector.jobs(JobFilter(), 0, 10).jobs
    assert inspector.failed_tasks(10) and inspector.workers() == []

    woken = threading.Event()
    stop = threading.Event()
    listener = threading.Thread(target=broker.listen, args=(lambda queue: woken.set(), stop))
    listener.start()
    redis = redis_of(confined)
    try:
        wait_until(lambda: redis.client.pubsub_numsub(redis.keys.channel)[0][1] == 1)
        tasks.noop.using(backend=confined).enqueue()
        wait_until(woken.is_set, timeout=10)
    finally:
        stop.set()
        listener.join()

    delete_redis_keys(confined)
    assert list(redis.client.scan_iter(match=f"*{redis.keys.prefix}*")) == []


def test_finished_jobs_keep_their_data_unless_a_ttl_is_set(redis_store, settings, run_worker):
    alias = redis_store
    redis = redis_of(alias)
    kept = tasks.add.using(backend=alias).enqueue(1, 1)
    waiting = tasks.add.using(backend=alias, run_after=later(timezone.now(), 60)).enqueue(1, 1)
    assert run_worker(alias) == 0
    assert redis.client.pttl(redis.keys.job("default", kept.id)) == -1  # no expiry
    assert redis.client.pttl(redis.keys.job("default", waiting.id)) == -1

    options = {**settings.TASKS[alias]["OPTIONS"], "RESULT_TTL_SECONDS": 60}
    settings.TASKS = {**settings.TASKS, "ttl": {**settings.TASKS[alias], "OPTIONS": options}}
    expiring = tasks.add.using(backend="ttl").enqueue(2, 2)
    redis = redis_of("ttl")
    assert redis.client.pttl(redis.keys.job("default", expiring.id)) == -1  # not while it waits
    assert run_worker("ttl") == 0
    expiring.refresh()
    assert expiring.status == TaskResultStatus.SUCCESSFUL
    assert 0 < redis.client.pttl(redis.keys.job("default", expiring.id)) <= 60_000
    delete_redis_keys("ttl")
