"""Small leaks: a Redis password in messages, shell words in suggested commands, NaN in progress."""

import logging
import shlex
import threading

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from backroom.compat import TaskResultStatus, task_backends
from backroom.conf import REDIS_OPTIONS, hidden_url, read_settings
from backroom.exceptions import StoreUnavailable
from backroom.monitoring.health import worker_command
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.support import stored_job, wait_until

PASSWORD = "hunter2-s3cret"
#: Nothing listens on port 1: every connection is refused at once.
UNREACHABLE = [
    f"redis://:{PASSWORD}@127.0.0.1:1/0",
    f"redis://alice:{PASSWORD}@127.0.0.1:1/0",
    f"rediss://alice:{PASSWORD}@127.0.0.1:1/0?socket_connect_timeout=1",
    f"unix://:{PASSWORD}@/nonexistent/redis.sock",
]
#: URLs a check must refuse, each holding the password where a parser could take it for something else.
MALFORMED = [
    f"http://alice:{PASSWORD}@127.0.0.1:6379/0",  # wrong scheme
    f"redis://:{PASSWORD}/x@127.0.0.1:1/0",  # an unencoded "/": redis-py reads the password as the port
    f"redis://:{PASSWORD}#x@127.0.0.1:1/0",
    f"redis://:{PASSWORD}?x@127.0.0.1:1/0",
    f"redis://:{PASSWORD}@[::1:1/0",  # a broken IPv6 address
    f"redis://:{PASSWORD}@127.0.0.1:port/0",
    f"alice:{PASSWORD}@127.0.0.1:6379",  # no scheme at all
]


def _redis_backend(settings, url: str) -> str:
    backend = {"BACKEND": "backroom.backends.RedisBackend", "OPTIONS": {"REDIS_URL": url}}
    settings.TASKS = {**settings.TASKS, "secret": backend}
    return "secret"


@pytest.mark.parametrize("url", MALFORMED)
def test_a_bad_redis_url_is_refused_without_showing_its_password(url):
    _, errors = read_settings("secret", {"REDIS_URL": url}, REDIS_OPTIONS)
    [message] = errors
    assert "['REDIS_URL']" in message
    assert PASSWORD not in message and PASSWORD[:4] not in message, message


@pytest.mark.django_db
@pytest.mark.parametrize("url", MALFORMED[:3])
def test_manage_py_check_and_enqueue_hide_the_password(settings, url):
    _redis_backend(settings, url)
    messages = [str(m) for m in checks.run_checks() if m.id and m.id.startswith("backroom.")]
    assert any("['REDIS_URL']" in m for m in messages), messages
    assert not any(PASSWORD[:4] in m for m in messages), messages
    with pytest.raises(ImproperlyConfigured) as refused:
        tasks.noop.using(backend="secret").enqueue()
    assert PASSWORD[:4] not in str(refused.value)


def test_hidden_url_keeps_the_place_and_drops_every_credential():
    assert hidden_url("redis://alice:pw@cache.internal:6380/2") == "'redis://***@cache.internal:6380/2'"
    assert hidden_url("redis://cache.internal:6379/0?password=pw") == "'redis://cache.internal:6379/0'"
    assert hidden_url("redis://:p@ss/w#rd@cache:6379/0") == "'redis://***@cache:6379/0'"
    assert hidden_url("user:pw@host") == "a string of 12 characters that is not a URL"
    assert hidden_url(["redis://:pw@host"]) == "a list"


@pytest.mark.parametrize("url", UNREACHABLE)
def test_enqueue_to_an_unreachable_redis_does_not_show_the_password(settings, url):
    _redis_backend(settings, url)
    with pytest.raises(StoreUnavailable) as refused:
        tasks.noop.using(backend="secret").enqueue()
    for exc in (refused.value, refused.value.__cause__):
        assert PASSWORD not in str(exc) and PASSWORD not in repr(exc)
    assert PASSWORD not in task_backends["secret"].store.description


def test_a_worker_facing_an_unreachable_redis_logs_no_password(settings, caplog):
    _redis_backend(settings, UNREACHABLE[1])
    caplog.set_level(logging.DEBUG, logger="backroom")
    worker = Worker(task_backends["secret"].store, WorkerOptions())
    exit_code: list[int] = []
    thread = threading.Thread(target=lambda: exit_code.append(worker.run()))
    thread.start()
    try:
        wait_until(lambda: caplog.text.count("store error, retrying") >= 2, timeout=30)
    finally:
        worker.request_stop()
        thread.join(30)
    assert "Connection refused" in caplog.text  # the messages were read, and say what happened
    assert PASSWORD not in caplog.text
    assert exit_code == [1]


@pytest.mark.parametrize(
    "alias, queue",
    [
        ("default", "emails"),
        ("my backend; rm -rf ~", "a:b.c-d_e"),
        ("$(touch pwned)", "queue"),
        ("`id`", "x"),
        ("it's", "q"),
    ],
)
def test_suggested_worker_commands_quote_every_name(alias, queue):
    command = worker_command(alias, queue)
    words = shlex.split(command)
    assert words[:4] == ["python", "manage.py", "backroom", "worker"]
    assert words[-2:] == ["--queue", queue]
    if alias == "default":
        assert "--backend" not in words
    else:
        assert words[4:6] == ["--backend", alias]  # one word, as given: nothing for a shell to run


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "true", "text"])
def test_set_progress_refuses_what_is_not_a_finite_number(store, run_worker, value):
    result = tasks.bad_progress.using(backend=store).enqueue(value)
    assert run_worker(store) == 0
    job = stored_job(store, result.id)
    assert job.status == TaskResultStatus.SUCCESSFUL, job.errors
    assert job.return_value.startswith("set_progress: current must be a finite number"), job.return_value
    assert job.progress == {"current": 1, "total": 2, "message": "before"}  # the last good progress stays


@pytest.mark.parametrize("url", MALFORMED[1:4])
def test_the_brokers_redacted_hides_a_password_holding_url_delimiters(url):
    from backroom.brokers.redis import redacted

    assert PASSWORD not in redacted(url)


def test_a_burst_worker_leaves_no_thread_behind(store, run_worker):
    before = threading.active_count()
    for _ in range(3):
        tasks.noop.using(backend=store).enqueue()
        assert run_worker(store, concurrency=2) == 0
    assert threading.active_count() <= before
