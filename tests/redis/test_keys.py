"""Every key under the prefix, nothing expiring unless asked, and clean removal.

Redis is shared with other users: the proof that backroom writes nowhere else
runs the whole job life cycle as a Redis ACL user that may only touch keys
and channels under the prefix, so any stray key fails the command.
"""

import os
import secrets
import threading

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from backroom import RetryPolicy
from backroom.brokers.base import ClaimRef
from backroom.compat import TaskResultStatus, task_backends
from tests import tasks
from tests.support import wait_until

from .factory import later, new_job


@pytest.fixture
def confined(redis_store, settings):
    """A Redis backend whose connections may only touch keys and channels under its prefix."""
    admin = redis.Redis.from_url(django_settings.REDIS_URL)
    user, password = f"backroom-test-{os.getpid()}", secrets.token_hex(16)
    prefix = f"{django_settings.REDIS_PREFIX}-confined"
    admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=[f"{prefix}:*"], channels=[f"{prefix}:*"],
        commands=["+@all", "-@dangerous"],
    )  # fmt: skip
    url = django_settings.REDIS_URL.replace("redis://", f"redis://{user}:{password}@", 1)
    options = {**settings.TASKS[redis_store]["OPTIONS"], "REDIS_URL": url, "KEY_PREFIX": prefix}
    settings.TASKS = {**settings.TASKS, "confined": {**settings.TASKS[redis_store], "OPTIONS": options}}
    try:
        yield "confined"
        task_backends["confined"].broker.delete_all_keys()
    finally:
        admin.acl_deluser(user)


def test_the_acl_refuses_keys_outside_the_prefix(confined):
    client = task_backends[confined].broker.client
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("outside-the-prefix", 1)
    with pytest.raises(redis.exceptions.ResponseError, match="can't access"):
        client.eval("return redis.call('SET', 'outside-the-prefix', 1)", 0)


def test_a_whole_life_cycle_stays_under_the_prefix(confined, run_worker):
    broker = task_backends[confined].broker
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
    held = new_job()
    broker.enqueue(held)
    broker.claim("w", [], 1, now, later(now, 1))
    broker.release("w", [ClaimRef(job_id=held.id, attempt=1)])
    broker.claim("w", [], 1, now, later(now, 1))
    assert [r.job_id for r in broker.reap(later(now, 2))] == [held.id]

    woken = threading.Event()
    stop = threading.Event()
    listener = threading.Thread(target=broker.listen, args=(lambda queue: woken.set(), stop))
    listener.start()
    try:
        wait_until(lambda: broker.client.pubsub_numsub(broker.key("enqueued"))[0][1] == 1)
        broker.enqueue(new_job())
        wait_until(woken.is_set, timeout=10)
    finally:
        stop.set()
        listener.join()

    assert broker.delete_all_keys() > 0
    assert list(broker.client.scan_iter(match=broker.key("*"))) == []


def test_finished_jobs_keep_their_data_unless_a_ttl_is_set(redis_store, settings, run_worker):
    broker = task_backends[redis_store].broker
    kept = tasks.add.using(backend=redis_store).enqueue(1, 1)
    waiting = tasks.add.using(backend=redis_store, run_after=later(timezone.now(), 60)).enqueue(1, 1)
    assert run_worker(redis_store) == 0
    assert broker.client.pttl(broker.key("job", kept.id)) == -1  # no expiry
    assert broker.client.pttl(broker.key("job", waiting.id)) == -1

    options = {**settings.TASKS[redis_store]["OPTIONS"], "RESULT_TTL_SECONDS": 60}
    settings.TASKS = {**settings.TASKS, redis_store: {**settings.TASKS[redis_store], "OPTIONS": options}}
    broker = task_backends[redis_store].broker
    expiring = tasks.add.using(backend=redis_store).enqueue(2, 2)
    assert broker.client.pttl(broker.key("job", expiring.id)) == -1  # not while it waits
    assert run_worker(redis_store) == 0
    expiring.refresh()
    assert expiring.status == TaskResultStatus.SUCCESSFUL
    assert 0 < broker.client.pttl(broker.key("job", expiring.id)) <= 60_000
