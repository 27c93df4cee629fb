"""Django's validation at enqueue, replayed on every store: what enqueue() refuses, it stores nothing of.

No worker is needed: these scenarios end before a job is stored. Django's
tests (django/django tests/tasks/) and the tests here that replay them:

=================================================  ===========================================
Django                                             here
=================================================  ===========================================
test_*_backend.test_using_correct_backend,         test_using_correct_backend
  test_dummy_backend.test_check
test_tasks.test_invalid_priority                   test_invalid_priority
test_tasks.test_unknown_queue_name                 test_unknown_queue_name
(backroom's rule for queue names)                  test_malformed_queue_name
test_*_backend.test_validate_on_enqueue            test_validate_on_enqueue
test_*_backend.test_validate_on_aenqueue           test_validate_on_aenqueue
test_tasks.test_enqueue_with_invalid_argument      test_enqueue_with_invalid_argument
test_tasks.test_aenqueue_with_invalid_argument     test_aenqueue_with_invalid_argument
test_tasks.test_naive_datetime                     test_naive_datetime
test_immediate_backend.test_cannot_pass_run_after  test_can_pass_run_after (supports_defer)
test_*_backend.test_validate_disallowed_async...   test_async_task_is_allowed (supports_async_task)
test_tasks.test_takes_context_without_taking...    test_takes_context_without_taking_context
test_tasks.test_invalid_function                   test_invalid_function
test_dummy_backend.test_enqueue_logs               test_enqueue_logs
=================================================  ===========================================
"""

import asyncio
import datetime
import logging
import re

import django
import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from backroom.compat import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY, InvalidTask, task, task_backends
from tests.support import job_count

from . import tasks

#: Where Django's signal receivers log: the backport on Django 5.2 logs as "django_tasks".
TASKS_LOGGER = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
PRIORITY_ERROR = f"priority must be a whole number between {TASK_MIN_PRIORITY} and {TASK_MAX_PRIORITY}."


@pytest.fixture
def only_queue_1(store, settings):
    """The store's backend with ``QUEUES: ["queue-1"]``, as Django's tests configure it."""
    settings.TASKS = {**settings.TASKS, store: {**settings.TASKS[store], "QUEUES": ["queue-1"]}}
    return store


def test_using_correct_backend(store, settings):
    backend = task_backends[store]
    assert backend.alias == store
    assert backend.options == settings.TASKS[store]["OPTIONS"]
    flags = (
        backend.supports_defer,
        backend.supports_async_task,
        backend.supports_get_result,
        backend.supports_priority,
    )
    assert flags == (True, True, True, True)
    assert list(backend.check()) == []


def test_invalid_priority(store):
    for priority in [-101, 101, 3.1]:
        with pytest.raises(InvalidTask, match=re.escape(PRIORITY_ERROR)):
            tasks.noop_task.using(backend=store, priority=priority)
    for priority in [100, -100, 0]:
        assert tasks.noop_task.using(backend=store, priority=priority).priority == priority


def test_unknown_queue_name(only_queue_1):
    with pytest.raises(InvalidTask, match=re.escape("Queue 'queue-2' is not valid for backend.")):
        tasks.noop_task.using(backend=only_queue_1, queue_name="queue-2")
    assert tasks.noop_task.using(backend=only_queue_1, queue_name="queue-1").queue_name == "queue-1"


def test_malformed_queue_name(store):
    """Without QUEUES any queue name is valid for Django; backroom still refuses one it cannot store."""
    with pytest.raises(InvalidTask, match="Queue name 'not a queue!' must be"):
        tasks.noop_task.using(backend=store, queue_name="not a queue!")


def test_validate_on_enqueue(store, settings):
    task_with_custom_queue_name = tasks.noop_task.using(backend=store, queue_name="unknown_queue")
    settings.TASKS = {**settings.TASKS, store: {**settings.TASKS[store], "QUEUES": ["queue-1"]}}
    with pytest.raises(InvalidTask, match="Queue 'unknown_queue' is not valid for backend"):
        task_with_custom_queue_name.enqueue()
    assert job_count(store) == 0


def test_validate_on_aenqueue(store, settings):
    task_with_custom_queue_name = tasks.noop_task.using(backend=store, queue_name="unknown_queue")
    settings.TASKS = {**settings.TASKS, store: {**settings.TASKS[store], "QUEUES": ["queue-1"]}}
    try:
        with pytest.raises(InvalidTask, match="Queue 'unknown_queue' is not valid for backend"):
            asyncio.run(task_with_custom_queue_name.aenqueue())
    finally:
        asyncio.run(sync_to_async(connections.close_all)())
    assert job_count(store) == 0


def test_enqueue_with_invalid_argument(store):
    with pytest.raises(TypeError, match="Unsupported type"):
        tasks.noop_task.using(backend=store).enqueue(datetime.datetime.now())
    assert job_count(store) == 0


def test_aenqueue_with_invalid_argument(store):
    try:
        with pytest.raises(TypeError, match="Unsupported type"):
            asyncio.run(tasks.noop_task.using(backend=store).aenqueue(datetime.datetime.now()))
    finally:
        asyncio.run(sync_to_async(connections.close_all)())
    assert job_count(store) == 0


def test_naive_datetime(store):
    with pytest.raises(InvalidTask, match=re.escape("run_after must be an aware datetime.")):
        tasks.noop_task.using(backend=store, run_after=datetime.datetime.now())


def test_can_pass_run_after(store):
    """Django's built-in backends refuse run_after; a backend that supports_defer takes it."""
    backend = task_backends[store]
    assert backend.supports_defer is True
    backend.validate_task(tasks.failing_task_value_error.using(backend=store, run_after=timezone.now()))


def test_async_task_is_allowed(store):
    backend = task_backends[store]
    assert backend.supports_async_task is True
    backend.validate_task(tasks.noop_task_async.using(backend=store))


def test_takes_context_without_taking_context(store):
    with pytest.raises(
        InvalidTask, match=re.escape("Task takes context but does not have a first argument of 'context'.")
    ):
        task(backend=store, takes_context=True)(tasks.calculate_meaning_of_life.func)


def test_invalid_function(store):
    def not_at_module_level():
        pass

    for invalid_function in [any, not_at_module_level]:
        with pytest.raises(InvalidTask, match=re.escape("Task function must be defined at a module level.")):
            task(backend=store)(invalid_function)


def test_enqueue_logs(store, caplog):
    with caplog.at_level(logging.DEBUG, logger=TASKS_LOGGER):
        result = tasks.noop_task.using(backend=store).enqueue()
    lines = [r.getMessage() for r in caplog.records if r.name == TASKS_LOGGER]
    assert len(lines) == 1, lines
    assert "enqueued" in lines[0]
    assert result.id in lines[0]
