"""django-background-tasks' ``@background``: calling enqueues, a worker imports the task by its path."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backroom.compat import InvalidTask, TaskResultStatus
from backroom.contrib.background import BackgroundTask, background, parse_schedule
from backroom.task import load_task
from tests.support import job_count, runs, stored_job

from . import tasks


def labels(store):
    return sorted(runs(store).values_list("label", flat=True))


def test_the_decorated_name_is_a_task_a_worker_imports():
    assert isinstance(tasks.note, BackgroundTask)
    assert load_task("tests.aliases.tasks.note") is tasks.note


def test_calling_a_bare_background_function_enqueues_it_for_now(store, run_worker):
    result = tasks.note.using(backend=store)("called", using=store)
    job = stored_job(store, result.id)
    assert (job.task_path, job.queue_name, job.run_after) == ("tests.aliases.tasks.note", "default", None)
    assert not runs(store).exists()  # enqueued, not run
    assert run_worker(store) == 0
    result.refresh()
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, "called")
    assert labels(store) == ["called"]


def test_schedule_and_queue_of_the_decorator(store, run_worker):
    before = timezone.now()
    result = tasks.remind.using(backend=store)("in a minute", using=store)
    after = timezone.now()
    job = stored_job(store, result.id)
    assert job.queue_name == "emails"
    assert before + timedelta(seconds=60) <= job.run_after <= after + timedelta(seconds=60)
    assert run_worker(store) == 0
    assert not runs(store).exists()  # not due yet
    assert run_worker(store, clock=lambda: after + timedelta(seconds=61)) == 0
    assert labels(store) == ["in a minute"]


def test_a_call_overrides_schedule_priority_and_queue(store, run_worker):
    remind = tasks.remind.using(backend=store)
    at = timezone.now() + timedelta(days=1)
    before = timezone.now()
    results = [
        remind("timedelta", using=store, schedule=timedelta(minutes=20)),
        remind("datetime", using=store, schedule=at),
        remind("now", using=store, schedule=0, queue="default", priority=5),
        remind("dict", using=store, schedule={"run_at": 10, "priority": -3}),
    ]
    after = timezone.now()
    jobs = [stored_job(store, result.id) for result in results]
    assert before + timedelta(minutes=20) <= jobs[0].run_after <= after + timedelta(minutes=20)
    assert jobs[1].run_after == at
    assert (jobs[2].queue_name, jobs[2].priority) == ("default", 5)
    assert before <= jobs[2].run_after <= after
    assert (jobs[3].queue_name, jobs[3].priority) == ("emails", -3)
    assert before + timedelta(seconds=10) <= jobs[3].run_after <= after + timedelta(seconds=10)
    assert [job.args for job in jobs] == [["timedelta"], ["datetime"], ["now"], ["dict"]]
    assert all(job.kwargs == {"using": store} for job in jobs)  # the options are not arguments
    assert run_worker(store) == 0
    assert labels(store) == ["now"]


def test_a_schedule_dict_of_the_decorator_sets_the_priority(store):
    result = tasks.urgent.using(backend=store)("soon", using=store)
    assert stored_job(store, result.id).priority == 7


def test_a_parameter_called_name_is_an_argument(store, run_worker):
    tasks.greet.using(backend=store)(name="Ada", using=store)
    assert run_worker(store) == 0
    assert labels(store) == ["hello Ada"]


def test_now_runs_the_function_in_place(store):
    assert tasks.note.using(backend=store).now("in place", using=store) == "in place"
    assert labels(store) == ["in place"]
    assert job_count(store) == 0


@pytest.mark.parametrize(
    ("option", "hint"),
    [
        ("repeat", "declare a schedule instead"),
        ("repeat_until", "declare a schedule instead"),
        ("verbose_name", "jobs are shown by their task path"),
        ("creator", "pass the creator's id as an argument"),
        ("remove_existing_tasks", "use .using(unique_key=...)"),
    ],
)
def test_call_options_with_no_equivalent_are_refused_by_name(option, hint):
    refused = rf"note\(\) got option\(s\) backroom does not support: {option}: "
    with pytest.raises(TypeError, match=refused) as raised:
        tasks.note("x", **{option: 60})
    assert hint in str(raised.value)


def test_decorator_options_with_no_equivalent_are_refused_by_name():
    with pytest.raises(TypeError, match=r"name: .* by its import path; remove_existing_tasks: use \.using"):
        background(name="mine", remove_existing_tasks=True)
    with pytest.raises(TypeError, match="name: backroom names a task by its import path"):
        background("mine")
    with pytest.raises(TypeError, match="sechdule: not an option of @background"):
        background(sechdule=60)
    with pytest.raises(TypeError, match=r"schedule must be seconds, .* or a dict, not '60'"):
        background(schedule="60")
    with pytest.raises(TypeError, match=r"schedule takes run_at and priority, not \['action'\]"):
        background(schedule={"run_at": 60, "action": 2})  # TaskSchedule.CHECK_EXISTING
    assert parse_schedule({"run_at": 60, "action": 0}) == (timedelta(seconds=60), None)  # SCHEDULE


@pytest.mark.django_db
def test_under_djangos_immediate_backend_a_call_runs_at_once_and_a_schedule_is_refused(immediate_backend):
    """Django's API underneath: ImmediateBackend runs a call, and refuses a delay as Django does."""
    result = tasks.note("at once")
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, "at once")
    assert labels("default") == ["at once"]
    with pytest.raises(InvalidTask, match="Backend does not support run_after"):
        tasks.remind("in a minute")
