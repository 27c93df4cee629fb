"""Bad input gets a clear error and loses nothing."""

import datetime
import json

import pytest
from django.core import checks
from django.utils import timezone

from backroom import RetryPolicy
from backroom.compat import InvalidTask, TaskResultStatus, task_backends
from backroom.exceptions import InvalidArguments
from backroom.jobs.records import NewJob
from tests import tasks
from tests.support import job_count, runs, stored_job


def test_non_json_positional_argument_is_named(store):
    with pytest.raises(InvalidArguments, match=r"Argument 'a' \(position 0\) of task 'tests.tasks.add'"):
        tasks.add.using(backend=store).enqueue(object(), 1)
    assert job_count(store) == 0


def test_non_json_keyword_argument_is_named(store):
    with pytest.raises(InvalidArguments, match=r"Argument 'b' .*datetime"):
        tasks.add.using(backend=store).enqueue(a=1, b=datetime.datetime.now())
    with pytest.raises(InvalidArguments, match=r"Argument 'label'"):
        tasks.record.using(backend=store).enqueue(label={1, 2})
    assert job_count(store) == 0


def test_nan_is_refused(store):
    with pytest.raises(InvalidArguments, match="Argument 'b'"):
        tasks.add.using(backend=store).enqueue(1, float("nan"))


def test_invalid_arguments_is_a_type_error():
    assert issubclass(InvalidArguments, TypeError)
    assert issubclass(InvalidArguments, InvalidTask)


def test_oversized_arguments_are_refused(store, settings):
    options = {**settings.TASKS[store]["OPTIONS"], "MAX_ARGUMENTS_BYTES": 1000}
    settings.TASKS = {**settings.TASKS, store: {**settings.TASKS[store], "OPTIONS": options}}
    with pytest.raises(InvalidArguments, match="over the limit of 1,000"):
        tasks.record.using(backend=store).enqueue("x" * 2000)
    assert job_count(store) == 0


def test_unknown_queue_is_refused(settings):
    settings.TASKS = {
        "default": {"BACKEND": "backroom.backends.DatabaseBackend", "QUEUES": ["default", "emails"]},
    }
    with pytest.raises(InvalidTask, match="Queue 'nope' is not valid"):
        tasks.record.using(queue_name="nope")
    assert tasks.record.using(queue_name="emails").queue_name == "emails"


def test_without_queues_setting_any_well_formed_queue_name_is_accepted():
    assert tasks.record.using(queue_name="reports.daily").queue_name == "reports.daily"
    with pytest.raises(InvalidTask, match="Queue name"):
        tasks.record.using(queue_name="has spaces")


@pytest.mark.parametrize("priority", [101, -101, 1.5])
def test_priority_out_of_range(priority):
    with pytest.raises(InvalidTask, match="priority"):
        tasks.record.using(priority=priority)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout": -1}, "timeout"),
        ({"retry": {"backoff": 1}}, "retry"),
        ({"unique_key": ""}, "unique_key"),
        ({"unique_key": "k" * 256}, "unique_key"),
    ],
)
def test_invalid_task_options(options, message):
    with pytest.raises(InvalidTask, match=message):
        tasks.record.using(**options)


def test_retry_policy_checks_its_values():
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)
    with pytest.raises(ValueError, match="retry_on"):
        RetryPolicy(retry_on=("ValueError",))


def _bad_row(store, task_path, args=(), kwargs=None, max_attempts=3, retry=None):
    """Store a job as no backend would build it (through the broker, as a stray row would be)."""
    now = timezone.now()
    broker = task_backends[store].store.broker
    job = NewJob(
        id=broker.new_ids("default", 1)[0], task_path=task_path, queue_name="default", priority=0,
        args=json.dumps(args), kwargs=json.dumps(kwargs or {}), run_after=None, available_at=now,
        enqueued_at=now, max_attempts=max_attempts, timeout_seconds=None,
        retry=retry or RetryPolicy().to_json(), unique_key=None,
    )  # fmt: skip
    assert broker.enqueue(job) is None
    return job.id


def test_rows_naming_no_task_fail_and_the_worker_goes_on(store, run_worker):
    missing_module = _bad_row(store, "tests.no_such_module.task")
    missing_name = _bad_row(store, "tests.tasks.no_such_task")
    not_a_task = _bad_row(store, "tests.tasks.not_a_task")
    os_system = _bad_row(store, "os.system", args=["touch /tmp/backroom-pwned"])
    good = tasks.record.using(backend=store).enqueue("good", store)

    assert run_worker(store) == 0

    for job_id, expected in [
        (missing_module, "cannot be imported"),
        (missing_name, "cannot be imported"),
        (not_a_task, "not a Task"),
        (os_system, "not a Task"),
    ]:
        row = stored_job(store, job_id)
        assert (row.status, row.attempts) == ("FAILED", 1), row.task_path
        assert row.errors[0].exception_class_path == "backroom.exceptions.UnknownTask"
        assert expected in row.errors[0].traceback
    good.refresh()
    assert good.status == TaskResultStatus.SUCCESSFUL
    assert runs(store).filter(label="good").count() == 1


def test_rows_with_nonsense_arguments_fail_readably(store, run_worker):
    wrong_kwargs = _bad_row(store, "tests.tasks.add", args=[1], kwargs={"nope": 2}, max_attempts=1)
    not_a_list = _bad_row(store, "tests.tasks.add", args={"a": 1}, max_attempts=1)
    bad_policy = _bad_row(store, "tests.tasks.always_fail", args=["x"], retry={"retry_on": ["os.system"]})
    assert run_worker(store) == 0
    for job_id in (wrong_kwargs, not_a_list, bad_policy):
        row = stored_job(store, job_id)
        assert row.status == "FAILED", (row.task_path, row.status, row.errors)
    assert "unexpected keyword argument 'nope'" in stored_job(store, wrong_kwargs).errors[-1].traceback


def test_non_json_return_value_fails_the_job(store, run_worker):
    result = tasks.returns_set.using(backend=store, max_attempts=1).enqueue()
    assert run_worker(store) == 0
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert "set" in result.errors[0].traceback


@pytest.mark.django_db  # Django's own model checks look at the database
def test_invalid_options_are_system_check_errors(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "backroom.backends.DatabaseBackend",
            "OPTIONS": {"MAX_ATTEMPTS": 0, "LEASE_SECONDS": "soon", "NOPE": 1, "DATABASE": "missing"},
        }
    }
    messages = [m.msg for m in checks.run_checks() if m.id and m.id.startswith("backroom.")]
    assert any("['MAX_ATTEMPTS'] must be a whole number" in m for m in messages)
    assert any("['LEASE_SECONDS'] must be a positive number" in m for m in messages)
    assert any("['NOPE'] is not a backroom option" in m for m in messages)
    assert any("names 'missing', which is not in DATABASES" in m for m in messages)
    with pytest.raises(Exception, match="MAX_ATTEMPTS"):
        tasks.record.enqueue("x")


def test_heartbeat_must_be_shorter_than_lease(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "backroom.backends.DatabaseBackend",
            "OPTIONS": {"HEARTBEAT_SECONDS": 60, "LEASE_SECONDS": 30},
        }
    }
    assert any("HEARTBEAT_SECONDS" in e for e in task_backends["default"].settings_errors)
