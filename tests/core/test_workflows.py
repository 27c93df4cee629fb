"""Chains and groups on every store: links kept in the store, released in the outcome's own write."""

import asyncio
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

import backroom
from backroom import call, chain, group
from backroom.compat import InvalidTask, TaskResultStatus
from backroom.exceptions import InvalidArguments
from tests import tasks
from tests.support import job_count, runs, stored_job, wait_until, worker_count

STEP_FAILED = "backroom.exceptions.StepFailed"
WORKFLOW_SUCCEEDED = "backroom.exceptions.WorkflowSucceeded"


def labels(store):
    """The labels of the runs tasks recorded, in the order they ran."""
    return list(runs(store).order_by("id").values_list("label", flat=True))


def statuses(store, results):
    return [stored_job(store, result.id).status for result in results]


def test_a_chain_passes_each_return_value_to_the_next_step(store, run_worker):
    handle = chain(
        call(tasks.step.using(backend=store), [], "a", store),
        call(tasks.step.using(backend=store), "b", store),
        call(tasks.step.using(backend=store), "c", using=store),
    ).enqueue()
    first, second, third = handle.results
    assert handle.last is third and handle.on_failure is None
    # Stored at once: the first step ready, the others waiting for their parent, unclaimable.
    assert [r.status for r in handle.results] == [TaskResultStatus.READY] * 3
    assert [stored_job(store, r.id).waiting_for for r in handle.results] == [0, 1, 1]
    assert stored_job(store, second.id).links.parents == (first.id,)
    assert stored_job(store, first.id).links.children == (second.id,)

    assert run_worker(store) == 0
    assert labels(store) == ["a", "b", "c"]
    third.refresh()
    assert (third.status, third.return_value) == (TaskResultStatus.SUCCESSFUL, ["a", "b", "c"])
    assert stored_job(store, second.id).args == [["a"], "b", store]  # the previous step's value first
    assert third.attempts == 1 and stored_job(store, third.id).waiting_for == 0


def test_a_waiting_step_is_never_claimed(store, run_worker):
    gate = tasks.always_fail.using(backend=store, run_after=timezone.now() + timedelta(hours=1))
    handle = chain(call(gate, "later"), call(tasks.step.using(backend=store), "b", store)).enqueue()
    assert run_worker(store) == 0  # nothing due: the second step waits, uncharged
    waiting = stored_job(store, handle.last.id)
    assert (waiting.status, waiting.attempts, waiting.worker_id) == ("READY", 0, None)
    assert labels(store) == []


def test_a_failing_middle_step_cancels_the_rest_and_runs_on_failure_once(store, run_worker):
    handle = chain(
        call(tasks.step.using(backend=store), [], "a", store),
        call(tasks.always_fail.using(backend=store)),
        call(tasks.step.using(backend=store), "c", store),
        call(tasks.step.using(backend=store), "d", store),
        on_failure=call(tasks.failed_step.using(backend=store), "cleanup", store),
    ).enqueue()
    _, failing, third, fourth = handle.results
    assert stored_job(store, handle.on_failure.id).waiting_for == 1

    assert run_worker(store) == 0
    assert statuses(store, handle.results) == ["SUCCESSFUL", "FAILED", "CANCELLED", "CANCELLED"]
    assert labels(store) == ["a", f"cleanup:{failing.id}"]
    for successor in (third, fourth):
        job = stored_job(store, successor.id)
        assert (job.attempts, job.started_at, job.waiting_for) == (0, None, 0)
        assert job.finished_at is not None
        [error] = job.errors
        assert error.exception_class_path == STEP_FAILED
        assert f"step {failing.id} failed (ValueError)" in error.traceback
        successor.refresh()
        assert successor.status == TaskResultStatus.FAILED  # Django has no CANCELLED
    handle.on_failure.refresh()
    assert (handle.on_failure.status, handle.on_failure.return_value) == (
        TaskResultStatus.SUCCESSFUL,
        failing.id,
    )
    assert stored_job(store, handle.on_failure.id).args == [failing.id, "cleanup", store]


def test_on_failure_of_a_chain_that_succeeds_never_runs(store, run_worker):
    handle = chain(
        call(tasks.step.using(backend=store), [], "a", store),
        call(tasks.step.using(backend=store), "b", store),
        on_failure=call(tasks.failed_step.using(backend=store), "cleanup", store),
    ).enqueue()
    assert run_worker(store) == 0
    assert labels(store) == ["a", "b"]
    job = stored_job(store, handle.on_failure.id)
    assert (job.status, job.attempts) == ("CANCELLED", 0)
    assert [e.exception_class_path for e in job.errors] == [WORKFLOW_SUCCEEDED]


def test_a_step_that_retries_keeps_the_chain_waiting(store, run_worker):
    policy = backroom.RetryPolicy(backoff_seconds=0, jitter=0)
    handle = chain(
        call(tasks.fail_times.using(backend=store, max_attempts=2, retry=policy), "flaky", 1, store),
        call(tasks.add.using(backend=store), 10),
    ).enqueue()
    assert run_worker(store) == 0
    assert statuses(store, handle.results) == ["SUCCESSFUL", "SUCCESSFUL"]
    handle.last.refresh()
    assert handle.last.return_value == 12  # the second attempt's value: 2


def test_cancelling_a_waiting_step_stops_the_chain(store, run_worker):
    handle = chain(
        call(tasks.step.using(backend=store), [], "a", store),
        call(tasks.step.using(backend=store), "b", store),
        call(tasks.step.using(backend=store), "c", store),
        on_failure=call(tasks.failed_step.using(backend=store), "cleanup", store),
    ).enqueue()
    second = handle.results[1]
    assert backroom.cancel(second, by="test") == backroom.Cancelled.CANCELLED
    assert statuses(store, handle.results) == ["READY", "CANCELLED", "CANCELLED"]
    assert run_worker(store) == 0
    assert labels(store) == ["a", f"cleanup:{second.id}"]
    third = stored_job(store, handle.last.id)
    assert f"step {second.id} was cancelled" in third.errors[0].traceback


def test_a_group_runs_its_callback_once_with_the_results_in_order(store, run_worker):
    record = tasks.record.using(backend=store)
    handle = group(
        *[call(record, f"member {i}", store) for i in range(5)],
        then=call(tasks.gather.using(backend=store), "callback", store),
    ).enqueue()
    assert len(handle.results) == 5
    assert stored_job(store, handle.then.id).waiting_for == 5
    assert stored_job(store, handle.then.id).links.parents == tuple(r.id for r in handle.results)
    assert run_worker(store) == 0
    handle.then.refresh()
    assert handle.then.return_value == [f"member {i}" for i in range(5)]
    assert labels(store)[-1] == "callback"


def test_a_failed_group_member_cancels_the_callback_and_runs_on_failure(store, run_worker):
    handle = group(
        call(tasks.record.using(backend=store), "fine", store),
        call(tasks.always_fail.using(backend=store), "broken"),
        call(tasks.always_fail.using(backend=store), "broken too"),
        then=call(tasks.gather.using(backend=store), "callback", store),
        on_failure=call(tasks.failed_step.using(backend=store), "cleanup", store),
    ).enqueue()
    assert run_worker(store) == 0
    assert statuses(store, handle.results) == ["SUCCESSFUL", "FAILED", "FAILED"]
    callback = stored_job(store, handle.then.id)
    assert callback.status == "CANCELLED" and callback.errors[0].exception_class_path == STEP_FAILED
    cleanups = [label for label in labels(store) if label.startswith("cleanup:")]
    assert len(cleanups) == 1  # the first failure released it; the second found it gone
    assert cleanups[0].split(":", 1)[1] in {handle.results[1].id, handle.results[2].id}


def test_a_chain_across_queues_is_refused_only_on_a_redis_cluster(store, run_worker):
    workflow = chain(
        call(tasks.step.using(backend=store), [], "a", store),
        call(tasks.step.using(backend=store, queue_name="other"), "b", store),
    )
    if store == "cluster":
        with pytest.raises(InvalidTask, match=r"keeps to one queue .* 'default', 'other'"):
            workflow.enqueue()
        assert job_count(store) == 0
        return
    handle = workflow.enqueue()
    assert run_worker(store, queues=["default", "other"]) == 0
    handle.last.refresh()
    assert handle.last.return_value == ["a", "b"]


def test_aenqueue(store, run_worker):
    workflow = group(
        call(tasks.add.using(backend=store), 1, 2),
        call(tasks.add.using(backend=store), 3, 4),
        then=call(tasks.gather.using(backend=store), "sum", store),
    )
    handle = asyncio.run(workflow.aenqueue())
    assert run_worker(store) == 0
    handle.then.refresh()
    assert handle.then.return_value == [3, 7]


def test_a_chain_survives_a_worker_killed_between_steps(store, worker_process):
    """Each step runs once, in order, with the values passed along, across a SIGKILL between steps."""
    doomed = worker_process("--backend", store)
    wait_until(lambda: worker_count(store) == 1, what="the worker to start")
    later = timezone.now() + timedelta(seconds=3)
    handle = chain(
        call(tasks.step.using(backend=store), [], "a", store),
        call(tasks.step.using(backend=store, run_after=later), "b", store),
        call(tasks.step.using(backend=store), "c", store),
    ).enqueue()
    _, second, third = handle.results
    # The first step's outcome released the second, which is due only later: kill the worker now.
    wait_until(
        lambda: stored_job(store, second.id).waiting_for == 0, what="the first step to release the second"
    )
    doomed.send(signal.SIGKILL)
    doomed.wait()
    assert labels(store) == ["a"]
    assert stored_job(store, second.id).status == "READY"

    worker_process("--backend", store)
    wait_until(
        lambda: stored_job(store, third.id).status == "SUCCESSFUL", timeout=30, what="the chain to end"
    )
    assert labels(store) == ["a", "b", "c"]
    third.refresh()
    assert third.return_value == ["a", "b", "c"]
    assert [stored_job(store, r.id).attempts for r in handle.results] == [1, 1, 1]


def test_a_group_of_twenty_with_three_racing_workers(store, worker_process):
    record = tasks.record.using(backend=store)
    handle = group(
        *[call(record, f"member {i:02}", store) for i in range(20)],
        then=call(tasks.gather.using(backend=store), "callback", store),
    ).enqueue()
    for _ in range(3):
        worker_process("--backend", store, "--concurrency", "4")
    wait_until(
        lambda: stored_job(store, handle.then.id).status == "SUCCESSFUL", timeout=60, what="the callback"
    )
    handle.then.refresh()
    assert handle.then.return_value == [f"member {i:02}" for i in range(20)]
    ran = labels(store)
    assert ran.count("callback") == 1 and ran[-1] == "callback"  # once, after every member
    assert sorted(ran[:-1]) == [f"member {i:02}" for i in range(20)]


# The API's errors: each names what is wrong, and nothing is stored.


def test_call_takes_a_task():
    with pytest.raises(TypeError, match=r"call\(\) takes a task .* not <function"):
        call(tasks.not_a_task)


def test_chain_and_group_take_calls():
    with pytest.raises(TypeError, match=r"chain\(\) needs at least one"):
        chain()
    with pytest.raises(TypeError, match=r"chain\(\): step 1 is .* not a backroom.call\(task, ...\)"):
        chain(call(tasks.noop), tasks.noop)
    nested = chain(call(tasks.noop))
    with pytest.raises(TypeError, match=r"group\(\): step 0 is Chain.*they do not nest"):
        group(nested, then=call(tasks.noop))
    with pytest.raises(TypeError, match=r"group\(\): then is None"):
        group(call(tasks.noop), then=None)
    with pytest.raises(TypeError, match=r"on_failure is 'x'"):
        chain(call(tasks.noop), on_failure="x")
    with pytest.raises(TypeError, match="then"):
        group(call(tasks.noop))  # the callback is required


def test_bad_calls_are_refused_before_anything_is_stored(store):
    ok = call(tasks.noop.using(backend=store))
    with pytest.raises(
        InvalidArguments, match=r"Workflow call 1 \(tests.tasks.add\): .*cannot be stored as JSON"
    ):
        chain(ok, call(tasks.add.using(backend=store), object(), 1)).enqueue()
    with pytest.raises(InvalidTask, match=r"Workflow call 0 .* unique_key"):
        group(call(tasks.noop.using(backend=store, unique_key="k")), then=ok).enqueue()
    with pytest.raises(InvalidTask, match=r"one backend \(one store\), not '\w+', '\w+'\."):
        other = "pg" if store == "default" else "default"
        chain(ok, call(tasks.noop.using(backend=other))).enqueue()
    with pytest.raises(InvalidTask, match="Queue name"):
        chain(ok, call(tasks.noop.using(backend=store, queue_name="bad queue!"))).enqueue()
    assert job_count(store) == 0


def test_an_expired_step_stops_the_chain(store, run_worker):
    handle = chain(
        call(tasks.step.using(backend=store, expires=timezone.now() - timedelta(seconds=1)), [], "a", store),
        call(tasks.step.using(backend=store), "b", store),
        on_failure=call(tasks.failed_step.using(backend=store), "cleanup", store),
    ).enqueue()
    first = handle.results[0]
    assert run_worker(store) == 0
    assert statuses(store, handle.results) == ["CANCELLED", "CANCELLED"]
    assert labels(store) == [f"cleanup:{first.id}"]
    assert (
        f"step {first.id} was cancelled (JobExpired)" in stored_job(store, handle.last.id).errors[0].traceback
    )


def test_a_step_whose_worker_is_lost_on_its_last_attempt_stops_the_chain(store, worker_process, tmp_path):
    gate = tmp_path / "never"
    handle = chain(
        call(tasks.wait_for_file.using(backend=store, max_attempts=1), str(gate), "stuck", store),
        call(tasks.step.using(backend=store), "next", store),
        on_failure=call(tasks.failed_step.using(backend=store), "cleanup", store),
    ).enqueue()
    first = handle.results[0]
    doomed = worker_process("--backend", store)
    wait_until(lambda: stored_job(store, first.id).status == "RUNNING", what="the first step to start")
    doomed.send(signal.SIGKILL)
    doomed.wait()
    worker_process("--backend", store)  # takes the lost job back: FAILED, its attempts used up
    wait_until(
        lambda: stored_job(store, handle.on_failure.id).status == "SUCCESSFUL", timeout=30, what="on_failure"
    )
    assert statuses(store, handle.results) == ["FAILED", "CANCELLED"]
    assert f"step {first.id} failed (WorkerLost)" in stored_job(store, handle.last.id).errors[0].traceback
    assert runs(store).filter(label=f"cleanup:{first.id}").count() == 1


def test_a_workflow_enqueued_in_a_rolled_back_transaction_is_not_stored(sql_store):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic(using=sql_store):
        chain(
            call(tasks.noop.using(backend=sql_store)), call(tasks.add.using(backend=sql_store), 1)
        ).enqueue()
        assert job_count(sql_store) == 2
        raise RuntimeError("roll back")
    assert job_count(sql_store) == 0


@pytest.mark.parametrize(
    "stored",
    [
        '"text"',
        '{"parents": "x"}',
        '{"parents": ["not an id"]}',
        '{"takes": "everything"}',
        '{"queues": [1]}',
    ],
)
def test_links_edited_into_nonsense_are_a_defect_not_a_crash(stored):
    from backroom.brokers.codec import decode_job, links_or_none

    job = decode_job({"status": "READY", "links": stored}, lambda value: None)
    assert job.links is None and "links are not workflow links" in job.defect
    assert links_or_none(stored) is None
