"""Django's own Tasks tests, replayed through a real worker process on every store.

Django tests its framework with the ImmediateBackend (the task runs inside
``enqueue()``) and the DummyBackend (it never runs). Here each scenario that
applies to a worker-based backend is enqueued on a backroom store, run by one
``manage.py backroom worker --burst`` subprocess per store, and checked the way
Django checks it, from the test process: results read back from the store,
Django's signals as receivers in the worker saw them (tests/conformance/recorder.py,
installed in the worker by tests/conformance/settings.py), and the worker's log.
Every scenario's job is enqueued first and one worker drains them all, so
a store's whole run costs one worker start.

Django's tests (django/django tests/tasks/, and the worker tests of the
reference database backend in django-tasks, where Django has none) and the
tests here that replay them:

=============================================================  ===============================================
Django                                                         here
=============================================================  ===============================================
test_immediate_backend.test_enqueue_task                       test_enqueue_task
test_dummy_backend.test_enqueue_task, test_errors              test_enqueue_task_returns_ready_result
test_immediate_backend.test_enqueue_task_async                 test_enqueue_task_async
test_immediate_backend.test_catches_exception                  test_catches_exception
test_immediate_backend.test_complex_exception                  test_complex_exception
test_immediate_backend.test_complex_return_value               test_complex_return_value
django-tasks test_worker_doesnt_exit, test_system_exit_task    test_worker_doesnt_exit
test_immediate_backend.test_result                             test_result
test_tasks.test_get_result, test_dummy_backend.test_get_result test_get_result
test_tasks.test_get_result_async                               test_get_result_async
test_dummy_backend.test_refresh_result                         test_refresh_result
test_dummy_backend.test_refresh_result_async                   test_refresh_result_async
test_tasks.test_get_missing_result                             test_get_missing_result
test_tasks.test_get_incorrect_result (and _async)              test_get_incorrect_result
test_immediate_backend.test_takes_context                      test_takes_context
test_immediate_backend.test_context                            test_context
test_*_backend.test_doesnt_wait_until_transaction_commit_by_default
                                                               test_doesnt_wait_until_transaction_commit_by_default
docs "Transactions" (a rolled-back enqueue)                    test_rolled_back_enqueue_never_runs
django-tasks test_run_after                                    test_run_after
django-tasks test_run_after_priority                           test_run_after_priority
django-tasks test_batch_processes_all_tasks                    test_batch_processes_all_tasks
docs "Enqueueing Tasks" (JSON arguments and return values)     test_arguments_and_return_value_round_trip_json
docs "Enqueueing Tasks" (double_dictionary)                    test_double_dictionary
docs "Errors" (one attempt by default, as DESIGN.md promises)  test_failed_task_has_one_attempt_and_its_error
TaskResult.attempts / worker_ids (test_enqueue_task)           test_attempts_and_worker_ids
docs "Updating results" (RUNNING, then refresh)                test_refresh_result_while_running
test_dummy_backend.test_enqueue_task (READY until it runs)     test_enqueue_task_ready_until_its_code_starts
signals task_enqueued, task_started, task_finished             test_signals_in_order,
                                                               test_task_started_signal_sees_a_running_result,
                                                               test_task_finished_signal_sees_the_outcome
test_immediate_backend.test_enqueue_logs,                      test_enqueue_logs
  django-tasks test_verbose_logging
test_immediate_backend.test_failed_logs                        test_failed_logs
test_immediate_backend.test_successful_task_no_none_type...    test_successful_task_no_none_type_in_logs
(backroom's own log line, one per job)                         test_worker_logs_one_line_per_job
=============================================================  ===============================================

Validation at enqueue needs no worker: tests/conformance/test_enqueue_validation.py.
A task raising KeyboardInterrupt may take its worker down, so it has its own
worker: tests/conformance/test_keyboard_interrupt.py.
"""

import asyncio
import copy
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone

from backroom.compat import TaskResultDoesNotExist, TaskResultStatus, task_backends
from tests.conftest import STORE_NAMES, STORES, _skip_without, store_in_use
from tests.support import WorkerProcess, db_for, delete_redis_keys, store_of, wait_until

from . import recorder, tasks

try:
    from django.tasks.exceptions import TaskResultMismatch
except ImportError:  # Django 5.2, with the django-tasks backport (backroom.compat does not export it)
    from django_tasks.exceptions import TaskResultMismatch

# Tests only read what the module's worker run stored: a rolled-back transaction each, no flush.
pytestmark = pytest.mark.django_db(databases="__all__")

WORKER_SETTINGS = "tests.conformance.settings"
SQL_TRANSACTIONS_ONLY = "Redis does not join SQL transactions: tests/redis/test_on_commit.py covers it"
#: Enqueued in this order; one worker must start them highest first.
PRIORITIES = [0, 100, -50, 50, -98, 7]
#: Jobs below the gate job, waiting (or claimed ahead) while it blocks the only thread.
BEHIND_THE_GATE = [f"behind the gate {i}" for i in range(3)]
#: The scenarios whose task raises, and the exception class path Django records.
FAILING = {
    "value_error": "builtins.ValueError",
    "system_exit": "builtins.SystemExit",
    "exit": "builtins.SystemExit",
    "complex_exception": "builtins.ValueError",
    "complex_return_value": "builtins.TypeError",
    "double_dictionary": "builtins.TypeError",
    "cancelled": "backroom.exceptions.JobCancelled",
}
#: Scenarios whose job must never run.
NOT_RUN = {"run_after", "rolled_back"}


class Rollback(Exception):
    pass


@dataclass
class WorkerRun:
    """One store's scenarios, as enqueued, and what one burst worker made of them."""

    store: str
    jobs: dict[str, Any]  # scenario -> the TaskResult enqueue() returned
    inside_transaction: Any  # the in-transaction job's result, read before the commit
    while_gated: dict[str, Any] | None  # results read while the gate job ran; None: it never ran
    exit_code: int | None  # None: the worker did not exit in time
    output: str
    signals: list[dict[str, Any]]
    test_pid: int

    @property
    def backend(self) -> Any:
        return task_backends[self.store]

    def result(self, name: str) -> Any:
        """The scenario's result as stored now, read through the backend like any reader."""
        return self.backend.get_result(self.jobs[name].id)

    @property
    def ran(self) -> list[str]:
        return [name for name in self.jobs if name not in NOT_RUN]

    @property
    def worker_id(self) -> str:
        found = re.search(r"worker starting id=(\S+)", self.output)
        assert found, self.output
        return found.group(1)

    def signals_for(self, name: str, signal: str | None = None) -> list[dict[str, Any]]:
        job_id = self.jobs[name].id
        return [s for s in self.signals if s["id"] == job_id and signal in (None, s["signal"])]

    def worker_signals(self) -> list[dict[str, Any]]:
        return [s for s in self.signals if s["pid"] != self.test_pid]

    def lines_with(self, text: str) -> list[str]:
        return [line for line in self.output.splitlines() if text in line]


def _enqueue_scenarios(store: str, gate: Path) -> tuple[dict[str, Any], Any]:
    def on(task: Any) -> Any:
        return task.using(backend=store)

    jobs: dict[str, Any] = {}
    jobs["noop"] = on(tasks.noop_task).enqueue(1, two=3)
    jobs["noop_async"] = on(tasks.noop_task_async).enqueue(1, two=3)
    jobs["aenqueue noop"] = asyncio.run(on(tasks.noop_task).aenqueue())
    jobs["aenqueue noop_async"] = asyncio.run(on(tasks.noop_task_async).aenqueue())
    asyncio.run(sync_to_async(connections.close_all)())  # aenqueue ran in asgiref's thread
    jobs["meaning_of_life"] = on(tasks.calculate_meaning_of_life).enqueue()
    jobs["echo"] = on(tasks.echo).enqueue(
        [1, {"a": [True, None, 1.5, "é"]}], ("tuple", 2), key={"nested": {"list": [1, "two", None]}}, n=-3
    )
    jobs["double_dictionary"] = on(tasks.double_dictionary).enqueue((1, 2, 3))
    jobs["value_error"] = on(tasks.failing_task_value_error).enqueue()
    # Early in the queue, so that a worker they took down would leave the rest undone.
    jobs["system_exit"] = on(tasks.failing_task_system_exit).using(priority=90).enqueue()
    jobs["exit"] = on(tasks.exit_task).using(priority=90).enqueue()
    jobs["complex_exception"] = on(tasks.complex_exception).enqueue()
    jobs["complex_return_value"] = on(tasks.complex_return_value).enqueue()
    jobs["cancelled"] = on(tasks.cancelled_task).enqueue()
    jobs["task_id"] = on(tasks.get_task_id).enqueue()
    jobs["context"] = on(tasks.describe_context).enqueue()
    jobs["run_after"] = on(tasks.noop_task).using(run_after=timezone.now() + timedelta(hours=10)).enqueue()
    for priority in PRIORITIES:
        jobs[f"priority {priority}"] = (
            on(tasks.noop_task).using(priority=priority).enqueue("priority", priority)
        )

    with transaction.atomic(using=db_for(store)):
        jobs["in_transaction"] = on(tasks.noop_task).enqueue("in a transaction")
        inside = task_backends[store].get_result(jobs["in_transaction"].id)
    if store_of(store).broker.joins_transactions:
        try:
            with transaction.atomic(using=store):
                jobs["rolled_back"] = on(tasks.noop_task).enqueue("rolled back")
                raise Rollback
        except Rollback:
            pass

    jobs["gate"] = on(tasks.wait_for_gate).using(priority=-99).enqueue(str(gate))
    for name in BEHIND_THE_GATE:
        jobs[name] = on(tasks.noop_task).using(priority=-100).enqueue(name)
    return jobs, inside


def _read_while_gated(store: str, jobs: dict[str, Any], gate: Path) -> dict[str, Any] | None:
    """Read the gate job and those behind it while the gate job runs; None if it never starts."""
    try:
        wait_until(lambda: Path(f"{gate}.started").exists(), what="the gate job to start")
    except AssertionError:
        return None
    backend = task_backends[store]
    # The worker writes a start a few milliseconds after the code began (batched), never before.
    wait_until(
        lambda: backend.get_result(jobs["gate"].id).status == "RUNNING", what="the start to be written"
    )
    return {name: backend.get_result(jobs[name].id) for name in ["gate", *BEHIND_THE_GATE]}


@pytest.fixture(scope="module", params=STORES, ids=[STORE_NAMES[s] for s in STORES])
def run(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """Enqueue every scenario on one store, drain them with one burst worker, then let tests read."""
    store = request.param
    _skip_without(store)
    directory = tmp_path_factory.mktemp(f"conformance-{STORE_NAMES[store]}")
    signals_file = directory / "signals.jsonl"
    gate = directory / "gate"
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as env, store_in_use(store):
        env.setenv(recorder.SIGNALS_FILE, str(signals_file))  # the worker inherits it
        recorder.connect()
        try:
            jobs, inside = _enqueue_scenarios(store, gate)
        finally:
            recorder.disconnect()
        worker = WorkerProcess(
            "--backend", store, "--burst", "--concurrency", "1",
            log_dir=directory, DJANGO_SETTINGS_MODULE=WORKER_SETTINGS,
        )  # fmt: skip
        try:
            while_gated = _read_while_gated(store, jobs, gate)
            gate.touch()
            try:
                exit_code: int | None = worker.wait(timeout=30)
            except AssertionError:
                exit_code = None
            output = worker.output()
        finally:
            worker.kill()
    yield WorkerRun(
        store=store,
        jobs=jobs,
        inside_transaction=inside,
        while_gated=while_gated,
        exit_code=exit_code,
        output=output,
        signals=recorder.read(str(signals_file)),
        test_pid=os.getpid(),
    )
    with django_db_blocker.unblock():
        if not store_of(store).broker.joins_transactions:  # a Redis store
            delete_redis_keys(store)
        else:
            call_command("flush", database=store, interactive=False, verbosity=0)


# Running tasks and reading their results.


@pytest.mark.parametrize("name", ["noop", "noop_async"])
def test_enqueue_task(run, name):
    result = run.result(name)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.is_finished is True
    assert None not in (result.started_at, result.last_attempted_at, result.finished_at)
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.return_value is None
    assert result.task == run.jobs[name].task
    assert (result.args, result.kwargs) == ([1], {"two": 3})
    assert result.attempts == 1


@pytest.mark.parametrize("name", ["noop", "noop_async"])
def test_enqueue_task_returns_ready_result(run, name):
    result = run.jobs[name]  # as enqueue() returned it
    assert result.status == TaskResultStatus.READY
    assert result.is_finished is False
    assert (result.started_at, result.last_attempted_at, result.finished_at) == (None, None, None)
    assert result.enqueued_at is not None
    with pytest.raises(ValueError, match="Task has not finished yet"):
        result.return_value  # noqa: B018
    assert (result.args, result.kwargs) == ([1], {"two": 3})
    assert (result.attempts, result.errors) == (0, [])


@pytest.mark.parametrize("name", ["aenqueue noop", "aenqueue noop_async"])
def test_enqueue_task_async(run, name):
    result = run.result(name)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.return_value is None
    assert (result.args, result.kwargs, result.attempts) == ([], {}, 1)


@pytest.mark.parametrize(
    ("name", "exception", "message"),
    [
        ("value_error", ValueError, "This Task failed due to ValueError"),
        ("system_exit", SystemExit, "This Task failed due to SystemExit"),
    ],
)
def test_catches_exception(run, name, exception, message):
    result = run.result(name)
    assert result.status == TaskResultStatus.FAILED
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018
    assert result.is_finished is True
    assert None not in (result.started_at, result.last_attempted_at, result.finished_at)
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert len(result.errors) == 1, [e.exception_class_path for e in result.errors]
    assert result.errors[0].exception_class is exception
    traceback = result.errors[0].traceback
    assert traceback.endswith(f"{exception.__name__}: {message}\n"), traceback
    assert result.task == run.jobs[name].task
    assert (result.args, result.kwargs) == ([], {})


def test_complex_exception(run):
    result = run.result("complex_exception")
    assert result.status == TaskResultStatus.FAILED
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.errors[0].exception_class is ValueError
    assert 'ValueError(ValueError("This task failed"))' in result.errors[0].traceback


def test_complex_return_value(run):
    result = run.result("complex_return_value")
    assert result.status == TaskResultStatus.FAILED
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.errors[0].exception_class is TypeError
    assert "Unsupported type" in result.errors[0].traceback


def test_worker_doesnt_exit(run):
    """``exit(1)`` in a task fails the task, not the worker: jobs queued behind it still run."""
    result = run.result("exit")
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is SystemExit
    assert result.errors[0].traceback.endswith("SystemExit: 1\n"), result.errors[0].traceback
    assert run.exit_code == 0, run.output
    started = [s["id"] for s in run.worker_signals() if s["signal"] == "task_started"]
    assert run.jobs["exit"].id in started
    assert started.index(run.jobs["exit"].id) < len(started) - 1, "no job ran after exit(1)"


def test_result(run):
    result = run.result("meaning_of_life")
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 42


def _same_call(a: Any, b: Any) -> None:
    assert (a.id, a.task, a.args, a.kwargs, a.backend, a.enqueued_at) == (
        b.id, b.task, b.args, b.kwargs, b.backend, b.enqueued_at,
    )  # fmt: skip


def test_get_result(run):
    enqueued = run.jobs["meaning_of_life"]
    fetched = tasks.calculate_meaning_of_life.using(backend=run.store).get_result(enqueued.id)
    _same_call(fetched, enqueued)
    assert fetched.return_value == 42
    _same_call(run.backend.get_result(enqueued.id), enqueued)


def test_get_result_async(run):
    enqueued = run.jobs["meaning_of_life"]
    task = tasks.calculate_meaning_of_life.using(backend=run.store)

    async def fetch():
        return await task.aget_result(enqueued.id), await run.backend.aget_result(enqueued.id)

    try:
        for fetched in asyncio.run(fetch()):
            _same_call(fetched, enqueued)
            assert fetched.return_value == 42
    finally:
        asyncio.run(sync_to_async(connections.close_all)())


def test_refresh_result(run):
    result = copy.copy(run.jobs["meaning_of_life"])
    assert result.status == TaskResultStatus.READY
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.is_finished is True
    assert None not in (result.started_at, result.finished_at)
    assert result.return_value == 42


def test_refresh_result_async(run):
    result = copy.copy(run.jobs["meaning_of_life"])
    assert result.status == TaskResultStatus.READY
    try:
        asyncio.run(result.arefresh())
    finally:
        asyncio.run(sync_to_async(connections.close_all)())
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 42


def test_get_missing_result(run):
    task = tasks.noop_task.using(backend=run.store)
    for missing in ["123", "00000000-0000-7000-8000-000000000000"]:
        with pytest.raises(TaskResultDoesNotExist):
            task.get_result(missing)
        try:
            with pytest.raises(TaskResultDoesNotExist):
                asyncio.run(task.aget_result(missing))
        finally:
            asyncio.run(sync_to_async(connections.close_all)())


def test_get_incorrect_result(run):
    other_task_id = run.jobs["meaning_of_life"].id
    task = tasks.noop_task.using(backend=run.store)
    with pytest.raises(TaskResultMismatch, match="Task does not match"):
        task.get_result(other_task_id)
    try:
        with pytest.raises(TaskResultMismatch, match="Task does not match"):
            asyncio.run(task.aget_result(other_task_id))
    finally:
        asyncio.run(sync_to_async(connections.close_all)())


def test_takes_context(run):
    result = run.result("task_id")
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == result.id


def test_context(run):
    """The context the running task saw: its result, RUNNING, on attempt 1, by this worker."""
    result = run.result("context")
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {
        "is_task_context": True,
        "attempt": 1,
        "id": result.id,
        "status": "RUNNING",
        "started": True,
        "worker_ids": [run.worker_id],
    }


# Transactions.


def test_doesnt_wait_until_transaction_commit_by_default(run):
    """Enqueued inside ``transaction.atomic()``: stored at once (with it), run once committed."""
    inside = run.inside_transaction
    assert inside.enqueued_at is not None
    assert inside.status == TaskResultStatus.READY
    assert run.result("in_transaction").status == TaskResultStatus.SUCCESSFUL


def test_rolled_back_enqueue_never_runs(run):
    if not store_of(run.store).broker.joins_transactions:
        pytest.skip(SQL_TRANSACTIONS_ONLY)
    with pytest.raises(TaskResultDoesNotExist):
        run.result("rolled_back")
    assert [s for s in run.signals_for("rolled_back") if s["pid"] != run.test_pid] == []


# When and in which order jobs run.


def test_run_after(run):
    """A job whose run_after is in the future is not run by a worker draining the queue."""
    result = run.result("run_after")
    assert result.status == TaskResultStatus.READY
    assert (result.started_at, result.attempts, result.worker_ids) == (None, 0, [])
    assert result.task.run_after == run.jobs["run_after"].task.run_after
    assert run.signals_for("run_after", "task_started") == []


def test_run_after_priority(run):
    """One worker draining a backlog starts higher priorities first; future jobs wait."""
    by_id = {job.id: name for name, job in run.jobs.items()}
    started = [by_id[s["id"]] for s in run.worker_signals() if s["signal"] == "task_started"]
    prioritised = [name for name in started if name.startswith("priority ")]
    expected = [f"priority {p}" for p in sorted(PRIORITIES, reverse=True)]
    assert prioritised == expected
    assert started[-1 - len(BEHIND_THE_GATE) :] == ["gate", *BEHIND_THE_GATE]  # the lowest, last
    assert "run_after" not in started


def test_batch_processes_all_tasks(run):
    """The burst worker runs every ready job to an end (SUCCESSFUL or FAILED), then exits 0."""
    assert run.exit_code == 0, run.output
    statuses = {name: str(run.result(name).status) for name in run.ran}
    expected = {name: "FAILED" if name in FAILING else "SUCCESSFUL" for name in run.ran}
    assert statuses == expected


# Arguments, return values and errors.


def test_arguments_and_return_value_round_trip_json(run):
    """Arguments and return values are JSON: nested values survive, tuples become lists."""
    enqueued = run.jobs["echo"]
    args = [[1, {"a": [True, None, 1.5, "é"]}], ["tuple", 2]]
    kwargs = {"key": {"nested": {"list": [1, "two", None]}}, "n": -3}
    assert (enqueued.args, enqueued.kwargs) == (args, kwargs)
    result = run.result("echo")
    assert (result.args, result.kwargs) == (args, kwargs)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"args": args, "kwargs": kwargs}


def test_double_dictionary(run):
    """Django's documented example: the tuple arrives as a list, which cannot be a dict key."""
    result = run.result("double_dictionary")
    assert result.args == [[1, 2, 3]]
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[-1].exception_class is TypeError
    assert result.errors[-1].traceback.endswith("TypeError: unhashable type: 'list'\n")


@pytest.mark.parametrize("name", sorted(FAILING))
def test_failed_task_has_one_attempt_and_its_error(run, name):
    """With default settings a task that raises ends FAILED after one attempt, its error recorded."""
    result = run.result(name)
    assert (result.status, result.attempts) == (TaskResultStatus.FAILED, 1)
    assert [e.exception_class_path for e in result.errors] == [FAILING[name]]
    traceback = result.errors[-1].traceback
    assert traceback.startswith("Traceback (most recent call last):"), traceback
    assert FAILING[name].rsplit(".", 1)[1] in traceback.splitlines()[-1]


def test_attempts_and_worker_ids(run):
    """Every job that ran was attempted once, by this run's worker."""
    seen = {name: (run.result(name).attempts, run.result(name).worker_ids) for name in run.ran}
    assert seen == {name: (1, [run.worker_id]) for name in run.ran}


# What readers see while a job runs.


def test_refresh_result_while_running(run):
    """Read from another process while the task runs: RUNNING; refreshed after it ends: SUCCESSFUL."""
    assert run.while_gated is not None, f"the gate job never started:\n{run.output}"
    running = copy.copy(run.while_gated["gate"])
    assert running.status == TaskResultStatus.RUNNING
    assert running.is_finished is False
    assert running.started_at is not None and running.finished_at is None
    assert (running.attempts, running.worker_ids) == (1, [run.worker_id])
    with pytest.raises(ValueError, match="Task has not finished yet"):
        running.return_value  # noqa: B018
    running.refresh()
    assert running.status == TaskResultStatus.SUCCESSFUL
    assert running.return_value == "through the gate"


def test_enqueue_task_ready_until_its_code_starts(run):
    """Jobs behind a running one (claimed ahead or not) read READY, not started, no attempt."""
    assert run.while_gated is not None, f"the gate job never started:\n{run.output}"
    seen = {
        name: (str(r.status), r.started_at, r.last_attempted_at, r.attempts, r.worker_ids)
        for name, r in run.while_gated.items()
        if name != "gate"
    }
    assert seen == {name: ("READY", None, None, 0, []) for name in BEHIND_THE_GATE}


# Signals, as receivers saw them.


def test_signals_in_order(run):
    """task_enqueued where the job was enqueued; task_started, then task_finished in the worker."""
    seen = {
        name: [(s["signal"], "here" if s["pid"] == run.test_pid else "worker") for s in run.signals_for(name)]
        for name in run.ran
    }
    expected = [("task_enqueued", "here"), ("task_started", "worker"), ("task_finished", "worker")]
    assert seen == {name: expected for name in run.ran}
    assert [s["signal"] for s in run.signals_for("run_after")] == ["task_enqueued"]


def test_task_started_signal_sees_a_running_result(run):
    sender = type(run.backend).__name__
    seen = {
        name: [
            (s["sender"], s["backend"], s["status"], s["attempts"], s["worker_ids"], bool(s["started_at"]),
             s["finished_at"])
            for s in run.signals_for(name, "task_started")
        ]
        for name in run.ran
    }  # fmt: skip
    expected = [(sender, run.store, "RUNNING", 1, [run.worker_id], True, None)]
    assert seen == {name: expected for name in run.ran}


def test_task_finished_signal_sees_the_outcome(run):
    seen = {
        name: [
            (s["status"], s["attempts"], s["errors"], bool(s["finished_at"]))
            for s in run.signals_for(name, "task_finished")
        ]
        for name in run.ran
    }
    expected = {
        name: [("FAILED", 1, [FAILING[name]], True) if name in FAILING else ("SUCCESSFUL", 1, [], True)]
        for name in run.ran
    }
    assert seen == expected
    assert [s["return_value"] for s in run.signals_for("meaning_of_life", "task_finished")] == [42]


# The worker's log.


def _state_lines(run: WorkerRun, name: str) -> list[str]:
    """Django's own log lines (logger django.tasks, from its signal receivers) about the job."""
    job = run.jobs[name]
    prefix = f"Task id={job.id} path={job.task.module_path} state="
    return [line.removeprefix(prefix) for line in run.lines_with(prefix)]


def test_enqueue_logs(run):
    seen = {name: _state_lines(run, name) for name in run.ran if name not in FAILING}
    assert seen == {name: ["RUNNING", "SUCCESSFUL"] for name in seen}


def test_failed_logs(run):
    seen = {name: _state_lines(run, name) for name in FAILING}
    assert seen == {name: ["RUNNING", "FAILED"] for name in FAILING}
    # Logged with the exception, as Django's receiver logs a failure.
    assert "ValueError: This Task failed due to ValueError" in run.output


def test_successful_task_no_none_type_in_logs(run):
    lines = run.lines_with(run.jobs["noop"].id)
    assert lines
    assert not [line for line in lines if "NoneType" in line]


def test_worker_logs_one_line_per_job(run):
    """backroom's own line: one per job, with its outcome."""
    outcome = re.compile(r"outcome=(\w+)")
    seen = {}
    for name in run.ran:
        lines = run.lines_with(f"job id={run.jobs[name].id} ")
        seen[name] = [found.group(1) if (found := outcome.search(line)) else line for line in lines]
    # A task that raises JobCancelled ends CANCELLED (Django's TaskResult reads it as FAILED).
    logged = {name: "cancelled" if name == "cancelled" else "failed" for name in FAILING}
    expected = {name: [logged.get(name, "successful")] for name in run.ran}
    assert seen == expected
