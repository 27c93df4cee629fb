"""Rows edited by hand into nonsense: the worker fails that job readably and goes on."""

import threading
import uuid

import pytest
from django.db.models import JSONField, Value
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backroom import RetryPolicy
from backroom.compat import TaskResultStatus, task_backends
from backroom.models import Job
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks

EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON_COLUMNS = ["args", "kwargs", "retry", "errors", "worker_ids", "return_value", "progress"]
# Any JSON PostgreSQL can hold (no NUL, no lone surrogate, no Infinity: such rows cannot exist).
short_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=5)
finite = st.floats(allow_nan=False, allow_infinity=False)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | finite | short_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(short_text, children, max_size=3),
    max_leaves=6,
)


@pytest.fixture
def store(sql_store):
    """These tests edit rows through the ORM or read SQL, so they run on the SQL stores."""
    return sql_store


def run_burst(store: str, within: float = 30.0) -> int:
    """Run a burst worker; a worker still busy after ``within`` seconds is spinning: fail."""
    worker = Worker(task_backends[store].store, WorkerOptions(burst=True, concurrency=2))
    fired = threading.Event()

    def stop_spinning() -> None:
        fired.set()
        worker.request_stop()

    timer = threading.Timer(within, stop_spinning)
    timer.start()
    try:
        code = worker.run()
    finally:
        timer.cancel()
    assert not fired.is_set(), f"the worker had to be stopped after {within}s: it spun"
    return code


def _job(store, **fields):
    now = timezone.now()
    values = {
        "id": uuid.uuid4(), "task_path": "tests.tasks.add", "queue_name": "default", "args": [1, 2],
        "available_at": now, "enqueued_at": now, "max_attempts": 1, "retry": RetryPolicy().to_json(),
    }  # fmt: skip
    values.update(fields)
    for column in JSON_COLUMNS:  # JSON null, not SQL NULL (the columns are NOT NULL)
        if column in values and values[column] is None:
            values[column] = Value(None, JSONField())
    return Job.objects.using(store).create(**values)


def _assert_worker_went_on(store, good):
    good.refresh()
    assert (good.status, good.return_value) == (TaskResultStatus.SUCCESSFUL, 5)


def _readable(store, job_id):
    """The job reads back through the backend, ending FAILED or SUCCESSFUL."""
    result = tasks.add.using(backend=store).get_result(str(job_id))
    assert result.status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
    return result


@EXAMPLES
@given(column=st.sampled_from(JSON_COLUMNS), value=any_json)
def test_nonsense_in_a_json_column(store, column, value):
    row = _job(store, **{column: value})
    good = tasks.add.using(backend=store).enqueue(2, 3)
    assert run_burst(store) == 0
    _assert_worker_went_on(store, good)
    result = _readable(store, row.id)
    if result.status == TaskResultStatus.FAILED:
        assert result.errors and result.errors[-1].traceback


def test_a_damaged_row_fails_with_the_damage_named(store):
    row = _job(store, kwargs=[1, 2], retry="often")
    good = tasks.add.using(backend=store).enqueue(2, 3)
    assert run_burst(store) == 0
    _assert_worker_went_on(store, good)
    result = _readable(store, row.id)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[-1].exception_class_path == "backroom.exceptions.CorruptJob"
    assert "kwargs is a list, not an object" in result.errors[-1].traceback
    assert "retry is a string, not an object" in result.errors[-1].traceback


def test_a_status_that_does_not_exist_is_left_alone_and_reads_as_failed(store):
    row = _job(store, status="BOGUS")
    good = tasks.add.using(backend=store).enqueue(2, 3)
    assert run_burst(store) == 0
    _assert_worker_went_on(store, good)
    assert Job.objects.using(store).get(id=row.id).status == "BOGUS"  # never claimed
    result = _readable(store, row.id)
    assert result.status == TaskResultStatus.FAILED
    assert "'BOGUS' is not a backroom status" in result.errors[-1].traceback


@pytest.mark.parametrize(
    "fields",
    [{"worker_id": None, "lease_expires_at": None}, {"worker_id": None}, {"lease_expires_at": None}],
    ids=["no-owner-no-lease", "no-owner", "no-lease"],
)
def test_running_rows_with_nulls_are_reaped_not_stuck(store, fields):
    values = {
        "status": "RUNNING",
        "attempts": 1,
        "worker_id": "gone-1-abc",
        "lease_expires_at": timezone.now(),
    }
    row = _job(store, **{**values, **fields})
    good = tasks.add.using(backend=store).enqueue(2, 3)
    assert run_burst(store) == 0
    _assert_worker_went_on(store, good)
    result = _readable(store, row.id)
    assert result.status == TaskResultStatus.FAILED
    assert "worker lost while running" in result.errors[-1].traceback


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"attempts": -3}, TaskResultStatus.FAILED),  # corrupt: CorruptJob names the field
        ({"max_attempts": 0}, TaskResultStatus.FAILED),
        ({"max_attempts": -5, "args": ["x", 1]}, TaskResultStatus.FAILED),
        (
            {"timeout_seconds": -1.0, "task_path": "tests.tasks.busy_loop", "args": [5]},
            TaskResultStatus.FAILED,
        ),
        ({"priority": 32000}, TaskResultStatus.FAILED),
        ({"task_path": ""}, TaskResultStatus.FAILED),
    ],
    ids=[
        "negative-attempts",
        "zero-max-attempts",
        "negative-max-attempts",
        "negative-timeout",
        "huge-priority",
        "empty-path",
    ],
)
def test_numbers_out_of_range_end_the_job(store, fields, expected):
    row = _job(store, **fields)
    good = tasks.add.using(backend=store).enqueue(2, 3)
    assert run_burst(store) == 0
    _assert_worker_went_on(store, good)
    stored = Job.objects.using(store).get(id=row.id)
    assert stored.status == expected.value, stored.errors
    if expected == TaskResultStatus.FAILED:
        assert stored.errors[-1]["traceback"]
