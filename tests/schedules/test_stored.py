"""Database schedules: created, edited, paused and deleted while schedulers run, on every store.

The rows live in the default database whatever the store; schedulers read
them at the tick after a change and enqueue through the store's broker.
"""

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from backroom.compat import task_backends
from backroom.models import StoredSchedule
from backroom.scheduler import Schedule
from backroom.scheduler.runner import Scheduler, scheduler_for
from backroom.scheduler.stored import set_enabled
from tests.support import job_count, runs, schedule_runs, wait_until

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def minute(m: int, second: int = 0) -> datetime:
    return T0 + timedelta(minutes=m, seconds=second)


def stored(store: str, name: str = "runtime", **fields) -> StoredSchedule:
    fields.setdefault("interval", timedelta(minutes=1))
    return StoredSchedule.objects.create(
        name=name, task="tests.tasks.record", kwargs={"label": name, "using": store}, backend=store, **fields
    )


def scheduler(store: str, declared=()) -> Scheduler:
    return Scheduler(task_backends[store].store, list(declared), read_stored=True)


def slots(store: str, name: str = "runtime") -> list[datetime]:
    return [slot_at for _, slot_at, _ in schedule_runs(store, name)]


def race(schedulers: list[Scheduler], now: datetime) -> list:
    """Tick every scheduler at ``now`` at once, each in its own thread (and database connections)."""
    barrier = threading.Barrier(len(schedulers))
    results: list = [None] * len(schedulers)

    def tick(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = schedulers[index].tick(now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick, args=(i,)) for i in range(len(schedulers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(result, list) for result in results), results
    return [enqueued for result in results for enqueued in result]


def test_a_schedule_created_at_runtime_runs_once_per_slot_across_racing_schedulers(store):
    schedulers = [scheduler(store), scheduler(store)]
    assert race(schedulers, minute(0)) == []  # nothing in the database yet
    stored(store)
    assert race(schedulers, minute(0, 20)) == []  # seen at the next tick: its first slot is still ahead
    first = race(schedulers, minute(1, 1))
    assert [(e.schedule_name, e.slot_at) for e in first] == [("runtime", minute(1))]
    second = race(schedulers, minute(2, 1))
    assert [e.slot_at for e in second] == [minute(2)]
    assert slots(store) == [minute(1), minute(2)]
    assert job_count(store) == 2


def test_an_edit_changes_the_next_slot(store):
    row = stored(store)
    running = scheduler(store)
    running.tick(minute(0))
    assert [e.slot_at for e in running.tick(minute(1, 1))] == [minute(1)]
    row.interval, row.cron, row.timezone = None, "30 10 * * *", "UTC"
    row.save()
    # Every minute would have enqueued 10:02 and 10:03; 10:30 daily picks up from the last slot, 10:01.
    assert running.tick(minute(2, 1)) == []
    assert running.tick(minute(3, 1)) == []
    assert [e.slot_at for e in running.tick(minute(30, 1))] == [minute(30)]
    assert slots(store) == [minute(1), minute(30)]


def test_new_arguments_reach_the_next_job(store, run_worker):
    row = stored(store)
    running = scheduler(store)
    running.tick(minute(0))
    row.kwargs = {"label": "edited", "using": store}
    row.save()
    [enqueued] = running.tick(minute(1, 1))
    assert run_worker(store) == 0
    assert list(runs(store).values_list("label", flat=True)) == ["edited"]
    assert enqueued.slot_at == minute(1)


def test_a_paused_schedule_stops_and_resumes_under_its_missed_policy(store):
    stored(store)
    running = scheduler(store)
    running.tick(minute(0))
    assert len(running.tick(minute(1, 1))) == 1
    set_enabled(StoredSchedule.objects.all(), False)
    for m in (2, 3, 4):
        assert running.tick(minute(m, 1)) == []
    set_enabled(StoredSchedule.objects.all(), True)
    # Back from 10:01: the slots missed while paused collapse into the latest ("latest", the default).
    assert [e.slot_at for e in running.tick(minute(5, 30))] == [minute(5)]
    assert [e.slot_at for e in running.tick(minute(6, 1))] == [minute(6)]
    assert slots(store) == [minute(1), minute(5), minute(6)]


def test_a_deleted_schedule_stops(store):
    row = stored(store)
    other = stored(store, name="other")
    running = scheduler(store)
    running.tick(minute(0))
    assert len(running.tick(minute(1, 1))) == 2
    row.delete()
    assert [e.schedule_name for e in running.tick(minute(2, 1))] == ["other"]
    other.delete()
    assert running.tick(minute(3, 1)) == []
    assert slots(store) == [minute(1)]


def test_a_database_schedule_never_takes_a_declared_name(store, settings, caplog):
    declared = {"task": "tests.tasks.noop", "interval": 60, "backend": store}
    settings.BACKROOM = {"SCHEDULES": {"backroom.prune": None, "runtime": declared}}
    stored(store)  # as if a deploy declared "runtime" after the row was saved
    running = scheduler(
        store,
        [Schedule(name="runtime", task="tests.tasks.noop", interval=timedelta(minutes=1), backend=store)],
    )
    with caplog.at_level(logging.ERROR, logger="backroom.scheduler.runner"):
        running.tick(minute(0))
    assert "database schedule 'runtime': 'runtime' is the name of" in caplog.text
    [enqueued] = running.tick(minute(1, 1))
    assert enqueued.schedule_name == "runtime"
    assert runs(store).count() == 0 and job_count(store) == 1  # the declared noop, not the row's record


def test_only_the_schedules_of_the_schedulers_store_run_there(store):
    elsewhere = "redis" if store != "redis" else "default"
    if elsewhere not in task_backends:
        pytest.skip(f"{elsewhere} is not configured")
    stored(store)
    stored(elsewhere, name="elsewhere")
    running = scheduler(store)
    running.tick(minute(0))
    assert [e.schedule_name for e in running.tick(minute(1, 1))] == ["runtime"]


@pytest.mark.django_db(transaction=True)
def test_an_unreadable_table_keeps_the_plans_until_it_is_back(caplog):
    stored("default")
    running = scheduler("default")
    running.tick(minute(0))
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE backroom_schedule RENAME TO backroom_schedule_away")
    try:
        with caplog.at_level(logging.WARNING, logger="backroom.scheduler.runner"):
            assert [e.slot_at for e in running.tick(minute(1, 1))] == [minute(1)]
            assert [e.slot_at for e in running.tick(minute(2, 1))] == [minute(2)]
        assert caplog.text.count("database schedules unreadable") == 1
        assert "run `python manage.py migrate`" in caplog.text  # a missing table says what to do
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE backroom_schedule_away RENAME TO backroom_schedule")
    stored("default", name="added")  # once back, a change is seen at the next tick
    assert running.tick(minute(3, 1))[0].schedule_name == "runtime"
    assert sorted(e.schedule_name for e in running.tick(minute(4, 1))) == ["added", "runtime"]


@pytest.mark.django_db(transaction=True)
def test_workers_read_the_database_even_without_declared_schedules():
    from backroom.backends.stores import store_for

    made = scheduler_for(store_for("default"))
    assert made is not None and made.declared == [] and made.read_stored


def test_a_running_worker_picks_up_a_schedule_created_at_runtime(store, worker_process):
    worker = worker_process("--backend", store)
    wait_until(lambda: "worker starting" in worker.output(), what="the worker to start")
    name = f"runtime-{store}"
    stored(store, name=name, interval=timedelta(seconds=1))
    wait_until(lambda: runs(store).filter(label=name).count() >= 2, what="two scheduled runs")
    worker.send(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()
    assert f"schedule name={name} slot=" in worker.output()
