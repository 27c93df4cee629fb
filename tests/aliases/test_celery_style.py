"""Celery's ``.delay`` and ``.apply_async`` on backroom's tasks: Django's enqueue under Celery's names."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backroom.compat import InvalidTask, TaskResultStatus
from tests import tasks
from tests.support import runs, stored_job


def test_delay_is_enqueue(store, run_worker):
    result = tasks.record.using(backend=store).delay("delayed", using=store)
    assert (result.status, result.args) == (TaskResultStatus.READY, ["delayed"])
    assert result.kwargs == {"using": store}
    assert run_worker(store) == 0
    result.refresh()
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, "delayed")
    assert list(runs(store).values_list("label", flat=True)) == ["delayed"]


def test_apply_async_maps_args_kwargs_queue_and_priority(store, run_worker):
    result = tasks.record.using(backend=store).apply_async(
        args=["routed"], kwargs={"using": store}, queue="emails", priority=7
    )
    job = stored_job(store, result.id)
    assert (job.queue_name, job.priority, job.run_after) == ("emails", 7, None)
    assert (result.args, result.kwargs) == (["routed"], {"using": store})
    assert run_worker(store, queues=["default"]) == 0  # another queue: not run
    assert not runs(store).exists()
    assert run_worker(store, queues=["emails"]) == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert list(runs(store).values_list("label", flat=True)) == ["routed"]


def test_apply_async_countdown_runs_the_job_that_many_seconds_later(store, run_worker):
    before = timezone.now()
    result = tasks.record.using(backend=store).apply_async(("later", store), countdown=90)
    after = timezone.now()
    run_after = stored_job(store, result.id).run_after
    assert before + timedelta(seconds=90) <= run_after <= after + timedelta(seconds=90)
    assert run_worker(store) == 0
    assert not runs(store).exists()  # not due yet
    assert run_worker(store, clock=lambda: after + timedelta(seconds=91)) == 0
    assert list(runs(store).values_list("label", flat=True)) == ["later"]


def test_apply_async_eta_is_run_after(store, run_worker):
    eta = timezone.now() + timedelta(hours=2)
    result = tasks.record.using(backend=store).apply_async(["at eta", store], eta=eta)
    assert stored_job(store, result.id).run_after == eta
    assert run_worker(store, clock=lambda: eta - timedelta(seconds=1)) == 0
    assert not runs(store).exists()
    assert run_worker(store, clock=lambda: eta) == 0
    assert list(runs(store).values_list("label", flat=True)) == ["at eta"]


def test_apply_async_without_options_is_enqueue(store, run_worker):
    result = tasks.add.using(backend=store).apply_async((2, 3))
    assert run_worker(store) == 0
    result.refresh()
    assert result.return_value == 5


def test_apply_async_expires_in_seconds_or_at_a_datetime(store, run_worker):
    before = timezone.now()
    in_seconds = tasks.record.using(backend=store).apply_async(("soon", store), expires=30)
    deadline = timezone.now() + timedelta(minutes=5)
    at_datetime = tasks.record.using(backend=store).apply_async(("later", store), expires=deadline)
    job = stored_job(store, in_seconds.id)
    assert before + timedelta(seconds=30) <= job.expires_at == job.enqueued_at + timedelta(seconds=30)
    assert stored_job(store, at_datetime.id).expires_at == deadline
    assert run_worker(store, clock=lambda: before + timedelta(minutes=1)) == 0
    in_seconds.refresh()
    at_datetime.refresh()
    assert in_seconds.errors[-1].exception_class_path == "backroom.exceptions.JobExpired"
    assert stored_job(store, in_seconds.id).status == "CANCELLED"
    assert at_datetime.status == TaskResultStatus.SUCCESSFUL
    assert list(runs(store).values_list("label", flat=True)) == ["later"]


def test_celery_options_with_no_meaning_here_are_named():
    with pytest.raises(TypeError) as raised:
        tasks.add.apply_async(
            (1, 2), expires=60, link=tasks.noop, retry=True, serializer="json", routing_key="k", task_id="x"
        )
    message = str(raised.value)
    assert message.startswith(
        "apply_async() got option(s) with no meaning in backroom: link, retry, routing_key, "
        "serializer, task_id. It takes args, kwargs, countdown, eta, queue, priority, expires."
    )
    assert "link: use backroom.chain(" in message
    with pytest.raises(TypeError, match=r"no meaning in backroom: time_limit\. .* use \.using\(timeout"):
        tasks.add.apply_async((1, 2), time_limit=30)


def test_apply_async_refuses_what_it_cannot_read():
    with pytest.raises(TypeError, match="countdown or eta, not both"):
        tasks.add.apply_async((1, 2), countdown=5, eta=timezone.now())
    with pytest.raises(TypeError, match="countdown must be seconds"):
        tasks.add.apply_async((1, 2), countdown="5")
    with pytest.raises(TypeError, match="args must be a list or a tuple, not str"):
        tasks.add.apply_async("12")
    # Priorities are Django's (-100..100, higher first): Celery's RabbitMQ 255 is refused by Django's check.
    with pytest.raises(InvalidTask, match="priority must be a whole number between -100 and 100"):
        tasks.add.apply_async((1, 2), priority=255)


def test_under_djangos_immediate_backend_the_aliases_are_djangos_calls(immediate_backend):
    assert tasks.add.delay(2, 3).return_value == 5
    assert tasks.add.apply_async((4, 5)).return_value == 9
    with pytest.raises(InvalidTask, match="Backend does not support run_after"):
        tasks.add.apply_async((4, 5), countdown=60)
