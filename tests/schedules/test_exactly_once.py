"""Three schedulers racing over the same PostgreSQL database: each slot is enqueued exactly once."""

import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.db import connections

from backroom.compat import task_backends
from backroom.models import Job, ScheduleRun
from backroom.scheduler import Missed, Schedule
from backroom.scheduler.runner import Scheduler

START = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC)
MINUTES = 200
STEP = timedelta(seconds=20)
SCHEDULERS = 3


def schedules(store: str) -> list[Schedule]:
    common = {"task": "tests.tasks.noop", "backend": store, "missed": Missed.ALL}
    return [
        Schedule(name="interval", interval=timedelta(minutes=1), **common),
        Schedule(name="cron", cron="* * * * *", timezone="Europe/Paris", **common),
    ]


def test_three_schedulers_enqueue_each_slot_exactly_once(pg):
    """Each scheduler has its own connection; at every step of a shared clock they tick together.

    Each skips a fifth of the steps at random (a busy worker), so they also
    catch up on slots the others may already have taken.
    """
    steps = [START + STEP * i for i in range(MINUTES * 3 + 1)]
    barrier = threading.Barrier(SCHEDULERS)
    enqueued: list[list] = [[] for _ in range(SCHEDULERS)]
    failures: list[BaseException] = []

    def run(index: int) -> None:
        rng = random.Random(index)
        scheduler = Scheduler(task_backends[pg].store, schedules(pg))
        try:
            scheduler.tick(START)
            for now in steps[1:]:
                barrier.wait(timeout=60)
                if rng.random() < 0.8 or now == steps[-1]:
                    enqueued[index] += scheduler.tick(now)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread below
            failures.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(SCHEDULERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)

    expected = [START.replace(second=0) + timedelta(minutes=m) for m in range(1, MINUTES + 1)]
    everything = [e for per_scheduler in enqueued for e in per_scheduler]
    for name in ("interval", "cron"):
        mine = sorted(e.slot_at for e in everything if e.schedule_name == name)
        assert mine == expected, name  # every slot, none twice, from the tick results
        stored = ScheduleRun.objects.using(pg).filter(schedule_name=name).order_by("slot_at")
        assert list(stored.values_list("slot_at", flat=True)) == expected
    job_ids = [str(job_id) for job_id in Job.objects.using(pg).values_list("id", flat=True)]
    assert len(job_ids) == 2 * MINUTES
    slot_job_ids = Counter(
        str(job_id) for job_id in ScheduleRun.objects.using(pg).values_list("job_id", flat=True)
    )
    assert set(slot_job_ids) == set(job_ids) and set(slot_job_ids.values()) == {1}
    assert sum(1 for per_scheduler in enqueued if per_scheduler) >= 2  # they really raced
