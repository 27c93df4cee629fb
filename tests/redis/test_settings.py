"""RedisBackend's OPTIONS, its system checks, and what happens when Redis is down."""

import logging
import re
import threading

import pytest
from django.core import checks

from backroom.compat import task_backends
from backroom.exceptions import StoreUnavailable
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.support import wait_until

#: Nothing listens on port 1: every connection is refused at once.
NOWHERE = "redis://127.0.0.1:1/0"


def _backroom_errors():
    return [m.msg for m in checks.run_checks() if m.id and m.id.startswith("backroom.")]


@pytest.mark.django_db
def test_invalid_redis_options_are_system_check_errors(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "backroom.backends.RedisBackend",
            "OPTIONS": {
                "REDIS_URL": "http://127.0.0.1:6379",
                "KEY_PREFIX": "has space",
                "ENQUEUE_ON_COMMIT": "yes",
                "RESULT_TTL_SECONDS": -1,
                "DATABASE": "missing",
            },
        }
    }
    messages = _backroom_errors()
    assert any("['REDIS_URL'] must be a redis://, rediss:// or unix:// URL" in m for m in messages)
    assert any("['KEY_PREFIX'] must be 1 to 100 characters" in m for m in messages)
    assert any("['ENQUEUE_ON_COMMIT'] must be True or False" in m for m in messages)
    assert any("['RESULT_TTL_SECONDS'] must be a positive number" in m for m in messages)
    # DATABASE only matters to Redis with ENQUEUE_ON_COMMIT, which fell back to off.
    assert not any("'DATABASE'] names 'missing'" in m for m in messages)


@pytest.mark.django_db
def test_on_commit_needs_a_real_database(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "backroom.backends.RedisBackend",
            "OPTIONS": {"ENQUEUE_ON_COMMIT": True, "DATABASE": "missing"},
        }
    }
    assert any("'DATABASE'] names 'missing', which is not in DATABASES" in m for m in _backroom_errors())


@pytest.mark.django_db
def test_redis_options_are_unknown_to_the_database_backend(settings):
    settings.TASKS = {
        "default": {"BACKEND": "backroom.backends.DatabaseBackend", "OPTIONS": {"KEY_PREFIX": "x"}},
    }
    [message] = _backroom_errors()
    assert "['KEY_PREFIX'] is not a backroom option" in message
    assert "REDIS_URL" not in message  # the list of known options is the database backend's


def test_valid_options_reach_the_broker(settings):
    settings.TASKS = {
        "r": {
            "BACKEND": "backroom.backends.RedisBackend",
            "OPTIONS": {"REDIS_URL": NOWHERE, "KEY_PREFIX": "app:jobs", "RESULT_TTL_SECONDS": 1.5},
        }
    }
    backend = task_backends["r"]
    assert backend.settings_errors == []
    broker = backend.store.broker
    assert broker.keys.job("emails", "1") == "{app:jobs:emails}:job:1"
    assert (broker.on_commit_database, broker.ttl_ms) == (None, "1500")


def test_enqueue_with_redis_down_raises_store_unavailable(settings):
    settings.TASKS = {"r": {"BACKEND": "backroom.backends.RedisBackend", "OPTIONS": {"REDIS_URL": NOWHERE}}}
    with pytest.raises(StoreUnavailable, match="Redis is unavailable"):
        tasks.noop.using(backend="r").enqueue()


def test_worker_backs_off_while_redis_is_down(settings, caplog):
    settings.TASKS = {"r": {"BACKEND": "backroom.backends.RedisBackend", "OPTIONS": {"REDIS_URL": NOWHERE}}}
    worker = Worker(task_backends["r"].store, WorkerOptions())
    exit_code: list[int] = []
    caplog.set_level(logging.WARNING, logger="backroom")
    thread = threading.Thread(target=lambda: exit_code.append(worker.run()))
    thread.start()
    try:
        # The loop survives failed passes and keeps trying, waiting longer each time.
        wait_until(lambda: caplog.text.count("store error, retrying") >= 4, timeout=30)
    finally:
        worker.request_stop()
        thread.join(30)
    delays = [float(d) for d in re.findall(r"retrying in ([0-9.]+)s", caplog.text)]
    # Doubling with jitter: each delay in [half, all] of 0.1 s, 0.2 s, 0.4 s, 0.8 s...
    for delay, ceiling in zip(delays, (0.1, 0.2, 0.4, 0.8), strict=False):
        assert ceiling / 2 <= delay <= ceiling, delays
    assert exit_code == [1]  # it could not unregister on the way out
