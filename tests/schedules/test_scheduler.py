"""The scheduler against each store, driven by an injected clock: no sleeps."""

import itertools
from datetime import UTC, datetime, timedelta

from backroom.compat import task_backends
from backroom.scheduler import Missed, Schedule
from backroom.scheduler.runner import Scheduler
from tests import tasks
from tests.support import job_count, runs, schedule_runs, stored_job

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def every_minute(store: str, **options) -> Schedule:
    options.setdefault("kwargs", {"label": "tick", "using": store})
    return Schedule(
        name="every-minute",
        task="tests.tasks.record",
        interval=timedelta(minutes=1),
        backend=store,
        **options,
    )


def drive(scheduler: Scheduler, start: datetime, end: datetime, step: timedelta) -> list:
    """Tick from ``start`` to ``end`` every ``step``; return everything enqueued."""
    enqueued = []
    now = start
    while now <= end:
        enqueued += scheduler.tick(now)
        now += step
    return enqueued


def slot_times(store: str, name: str) -> list[datetime]:
    return [slot_at for _, slot_at, _ in schedule_runs(store, name)]


def test_cron_schedule_fires_at_the_right_instants_across_daylight_saving(store):
    nightly = Schedule(
        name="nightly", task="tests.tasks.noop", cron="30 2 * * *", timezone="Europe/Paris", backend=store
    )
    hourly = Schedule(
        name="hourly", task="tests.tasks.noop", cron="0 * * * *", timezone="Europe/Paris", backend=store
    )
    scheduler = Scheduler(task_backends[store].store, [nightly, hourly])
    # Paris moves its clocks forward on 2025-03-30 at 02:00: 02:30 does not exist that night.
    start, end = datetime(2025, 3, 28, 12, tzinfo=UTC), datetime(2025, 3, 31, 12, tzinfo=UTC)
    enqueued = drive(scheduler, start, end, timedelta(seconds=20))
    assert [e.slot_at for e in enqueued if e.schedule_name == "nightly"] == [
        datetime(2025, 3, 29, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2025, 3, 30, 1, 0, tzinfo=UTC),  # 03:00 CEST, the first minute after the gap
        datetime(2025, 3, 31, 0, 30, tzinfo=UTC),  # 02:30 CEST
    ]
    hourly_slots = [e.slot_at for e in enqueued if e.schedule_name == "hourly"]
    assert len(hourly_slots) == 72  # every real hour, the short night included
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(hourly_slots))
    assert slot_times(store, "nightly") == [e.slot_at for e in enqueued if e.schedule_name == "nightly"]
    assert job_count(store) == 75  # every job of this test is a noop


def test_repeated_hour_runs_a_nightly_job_once(store):
    nightly = Schedule(
        name="nightly", task="tests.tasks.noop", cron="30 2 * * *", timezone="Europe/Paris", backend=store
    )
    scheduler = Scheduler(task_backends[store].store, [nightly])
    # Paris moves its clocks back on 2025-10-26 at 03:00: 02:30 happens twice.
    start, end = datetime(2025, 10, 25, 12, tzinfo=UTC), datetime(2025, 10, 27, 12, tzinfo=UTC)
    enqueued = drive(scheduler, start, end, timedelta(seconds=30))
    assert [e.slot_at for e in enqueued] == [
        datetime(2025, 10, 26, 0, 30, tzinfo=UTC),  # 02:30 CEST, the first pass
        datetime(2025, 10, 27, 1, 30, tzinfo=UTC),  # 02:30 CET
    ]


def test_enqueued_jobs_carry_the_schedule_options_and_run(store, run_worker):
    schedule = every_minute(store, queue_name="periodic", priority=7)
    scheduler = Scheduler(task_backends[store].store, [schedule])
    assert scheduler.tick(T0) == []  # a new schedule starts with its first slot after the scheduler starts
    assert scheduler.tick(T0 + timedelta(seconds=30)) == []
    [enqueued] = scheduler.tick(T0 + timedelta(minutes=1, seconds=1))
    assert (enqueued.schedule_name, enqueued.slot_at) == ("every-minute", T0 + timedelta(minutes=1))
    job = stored_job(store, enqueued.job_id)
    assert (job.task_path, job.queue_name, job.priority, job.kwargs) == (
        "tests.tasks.record", "periodic", 7, {"label": "tick", "using": store},
    )  # fmt: skip
    assert run_worker(store) == 0
    assert runs(store).filter(label="tick").count() == 1
    [(_, _, job_id)] = schedule_runs(store)
    assert job_id == enqueued.job_id


def test_two_schedulers_enqueue_each_slot_once(store):
    backend = task_backends[store]
    first = Scheduler(backend.store, [every_minute(store)])
    second = Scheduler(backend.store, [every_minute(store)])
    for scheduler in (first, second):
        scheduler.tick(T0)
    now = T0 + timedelta(minutes=1, seconds=1)
    assert len(first.tick(now)) == 1
    assert second.tick(now) == []
    assert len(second.tick(now + timedelta(minutes=1))) == 1
    assert first.tick(now + timedelta(minutes=1)) == []
    assert job_count(store) == len(schedule_runs(store)) == 2


def restart_after_downtime(store: str, **options) -> list:
    """Run a scheduler one slot, 'stop every worker' for 10 minutes, start a new one: what does it enqueue?"""
    backend = task_backends[store]
    before = Scheduler(backend.store, [every_minute(store, **options)])
    before.tick(T0)
    assert len(before.tick(T0 + timedelta(minutes=1, seconds=1))) == 1
    after = Scheduler(backend.store, [every_minute(store, **options)])  # picks up from the last recorded slot
    return after.tick(T0 + timedelta(minutes=11, seconds=20))


def test_missed_slots_latest_runs_once_for_the_latest(store):
    enqueued = restart_after_downtime(store)
    assert [e.slot_at for e in enqueued] == [T0 + timedelta(minutes=11)]
    assert job_count(store) == 2


def test_missed_slots_skip_runs_only_what_is_on_time(store):
    enqueued = restart_after_downtime(store, missed=Missed.SKIP)
    assert [e.slot_at for e in enqueued] == [T0 + timedelta(minutes=11)]  # 20 s late: on time
    # Down again from 10:11 to 10:45:30: the slots in between are over a minute late and dropped.
    fresh = Scheduler(task_backends[store].store, [every_minute(store, missed=Missed.SKIP)])
    assert [e.slot_at for e in fresh.tick(T0 + timedelta(minutes=45, seconds=30))] == [
        T0 + timedelta(minutes=45)
    ]
    assert slot_times(store, "every-minute") == [T0 + timedelta(minutes=m) for m in (1, 11, 45)]


def test_missed_slots_all_runs_each_up_to_the_limit(store):
    enqueued = restart_after_downtime(store, missed=Missed.ALL)
    assert [e.slot_at for e in enqueued] == [T0 + timedelta(minutes=m) for m in range(2, 12)]
    assert job_count(store) == 11
    capped = Scheduler(task_backends[store].store, [every_minute(store, missed=Missed.ALL, missed_limit=3)])
    assert [e.slot_at for e in capped.tick(T0 + timedelta(minutes=20, seconds=1))] == [
        T0 + timedelta(minutes=m) for m in (18, 19, 20)
    ]


def test_a_slot_served_by_an_active_unique_job_enqueues_nothing_new(store):
    backend = task_backends[store]
    holder = tasks.noop.using(backend=store, unique_key="refresh").enqueue()
    job = backend.jobs.new_job(tasks.noop.using(backend=store, unique_key="refresh"), (), {})
    assert backend.store.broker.enqueue_slot(job, "refresh", T0) == holder.id
    assert backend.store.broker.enqueue_slot(job, "refresh", T0) is None  # the slot is taken
    assert job_count(store) == 1
    assert [job_id for _, _, job_id in schedule_runs(store)] == [holder.id]
    assert backend.store.broker.last_slots(["refresh", "other"])["refresh"].job_id == holder.id


def test_last_slots_reads_the_latest_slot_of_each_schedule(store):
    backend = task_backends[store]
    for name, minutes in [("a", 1), ("a", 3), ("a", 2), ("b", 5)]:
        job = backend.jobs.new_job(tasks.noop.using(backend=store), (), {})
        assert backend.store.broker.enqueue_slot(job, name, T0 + timedelta(minutes=minutes)) == job.id
    last = backend.store.broker.last_slots(["a", "b", "c"])
    assert {name: run.slot_at for name, run in last.items()} == {
        "a": T0 + timedelta(minutes=3),
        "b": T0 + timedelta(minutes=5),
    }
    assert backend.store.broker.last_slots([]) == {}
