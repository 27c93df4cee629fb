"""Tasks declared with backroom's options still import and run under Django's own backends (test settings)."""

import sys
import types
import warnings

import pytest
from django.core.management import call_command

from backroom import call, chain
from backroom.compat import BaseTaskBackend, InvalidTask, TaskResultStatus
from backroom.task import OptionsIgnored, _warned_backends
from tests import tasks
from tests.support import runs

DJANGO_BACKENDS = BaseTaskBackend.__module__.rsplit(".", 1)[0]
CALLS: list[str] = []


TASKS_MODULE = """
from backroom import RetryPolicy, task
from tests.core.test_other_backends import CALLS

@task(max_attempts=5, timeout=30, retry=RetryPolicy(backoff_seconds=2))
def send_welcome_email(address):
    CALLS.append(address)
    return f"sent to {address}"

@task(unique_key="nightly")
def nightly_report():
    CALLS.append("report")
"""
TASKS_FILE = "myapp/tasks.py"


def declare_tasks():
    """A tasks module as a project writes it for backroom, imported while TASKS names Django's backend."""
    module = types.ModuleType("tests.core.myapp_tasks")
    sys.modules[module.__name__] = module  # the backend checks that a task is a module-level function
    exec(compile(TASKS_MODULE, TASKS_FILE, "exec"), module.__dict__)
    return module.send_welcome_email, module.nightly_report


@pytest.fixture
def django_backend(settings, request):
    settings.TASKS = {"default": {"BACKEND": f"{DJANGO_BACKENDS}.{request.param}"}}
    _warned_backends.clear()
    CALLS.clear()
    yield request.param
    _warned_backends.clear()


@pytest.mark.parametrize("django_backend", ["immediate.ImmediateBackend"], indirect=True)
def test_under_the_immediate_backend_the_options_are_accepted_and_the_task_runs(django_backend):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        send_welcome_email, nightly_report = declare_tasks()
    [warning] = caught  # one for the backend, not one per task
    assert warning.category is OptionsIgnored
    assert warning.filename == TASKS_FILE  # it points at the declaration
    assert str(warning.message).startswith(
        "TASKS['default'] is ImmediateBackend, which ignores backroom's task options "
        "(max_attempts, retry, timeout"
    )

    result = send_welcome_email.using(priority=10, unique_key="once").enqueue("ada@example.com")
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "sent to ada@example.com"
    nightly_report.enqueue()
    assert CALLS == ["ada@example.com", "report"]


@pytest.mark.parametrize("django_backend", ["dummy.DummyBackend"], indirect=True)
def test_under_the_dummy_backend_the_options_are_accepted_and_the_task_waits(django_backend):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        send_welcome_email, _ = declare_tasks()
    assert [w.category for w in caught] == [OptionsIgnored]
    result = send_welcome_email.enqueue("ada@example.com")
    assert result.status == TaskResultStatus.READY
    assert CALLS == []


def test_on_backroom_backends_the_options_apply_without_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        send_welcome_email, nightly_report = declare_tasks()
    assert caught == []
    assert (send_welcome_email.max_attempts, send_welcome_email.timeout) == (5, 30)
    assert nightly_report.unique_key == "nightly"


@pytest.mark.django_db(transaction=True)
def test_a_test_runs_backroom_jobs_with_the_documented_burst_worker():
    """docs/guide.md's testing advice, as written: keep backroom's backend, run a burst worker."""
    result = tasks.record.enqueue("tested", "default")
    call_command("backroom", "worker", "--burst")
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert list(runs("default").values_list("label", flat=True)) == ["tested"]


@pytest.mark.parametrize("django_backend", ["immediate.ImmediateBackend"], indirect=True)
def test_a_workflow_under_the_immediate_backend_is_refused_with_the_way_to_test_it(django_backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptionsIgnored)
        send_welcome_email, nightly_report = declare_tasks()
    with pytest.raises(InvalidTask, match=r"ImmediateBackend.*backroom\.testing\.drain\(\)"):
        chain(call(send_welcome_email, "ada@example.com"), call(nightly_report)).enqueue()
    assert CALLS == []  # nothing ran
