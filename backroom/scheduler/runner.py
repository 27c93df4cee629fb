"""The scheduler: enqueue each due slot of one backend's schedules, once across every scheduler.

Any number of schedulers may run (one in every worker, plus standalone ones):
they race for each slot and the store keeps one, through the unique
(schedule, slot) record ``enqueue_slot`` writes with the job. No leader, so
nothing to split. Each scheduler remembers how far it has looked; when it
starts, it picks up from each schedule's last recorded slot, so slots that
passed while no scheduler ran are handled by the schedule's ``missed`` policy.
A schedule never run before starts with its first slot after the scheduler
starts.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from ..compat import InvalidTask, Task, TaskResult, task_enqueued
from ..exceptions import StoreError, StoreNotReady
from ..jobs.results import ready_results
from ..store import Store
from ..waiting import MigrateWait
from .declaration import Schedule
from .registry import declared, problems, resolve, zone
from .slots import due, next_slot

logger = logging.getLogger(__name__)

#: Seconds between ticks: slots are at least a second apart, usually minutes.
TICK_SECONDS = 1.0
#: Back-off of the standalone loop after a failed tick (database down), doubled up to the maximum.
ERROR_BACKOFF_SECONDS = (0.5, 10.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Enqueued:
    """A slot this scheduler enqueued, and the job that serves it."""

    schedule_name: str
    slot_at: datetime
    job_id: str


@dataclass(slots=True)
class _Plan:
    schedule: Schedule
    task: Task
    tz: ZoneInfo
    since: datetime | None = None  # slots up to here are dealt with
    next_at: datetime | None = None  # the first slot after ``since``


class Scheduler:
    """Enqueues the due slots of the given schedules into ``store``; ``tick(now)`` does one pass."""

    def __init__(self, store: Store, schedules: Sequence[Schedule]) -> None:
        self.store = store
        self._plans = [_Plan(s, resolve(s), zone(s)) for s in schedules]
        self._started = False

    @property
    def schedules(self) -> list[Schedule]:
        return [plan.schedule for plan in self._plans]

    def tick(self, now: datetime) -> list[Enqueued]:
        """Enqueue every slot due at ``now`` that no scheduler enqueued yet; return what this call did."""
        if not self._started:
            self._start(now)
        enqueued: list[Enqueued] = []
        for plan in self._plans:
            assert plan.since is not None and plan.next_at is not None
            if now < plan.next_at:
                continue
            enqueued.extend(self._enqueue_due(plan, plan.since, now))
            # Only once its slots are stored: after a database error the next tick tries them again.
            plan.since = now
            plan.next_at = next_slot(plan.schedule, now, plan.tz)
        return enqueued

    def _start(self, now: datetime) -> None:
        """Pick up from each schedule's last recorded slot, or from now for a new schedule."""
        last = self.store.broker.last_slots([plan.schedule.name for plan in self._plans])
        for plan in self._plans:
            recorded = last.get(plan.schedule.name)
            plan.since = recorded.slot_at if recorded is not None else now
            plan.next_at = next_slot(plan.schedule, plan.since, plan.tz)
        self._started = True

    def _enqueue_due(self, plan: _Plan, since: datetime, now: datetime) -> list[Enqueued]:
        schedule = plan.schedule
        found = due(schedule, since, now, plan.tz)
        if found.dropped:
            logger.warning(
                "schedule name=%s missed slots after %s; policy missed=%s runs %d of them",
                schedule.name, since.isoformat(), schedule.missed, len(found.run),
            )  # fmt: skip
        enqueued = []
        for slot in found.run:
            try:
                result = self.enqueue_slot(plan.task, schedule.args, schedule.kwargs, schedule.name, slot)
            except InvalidTask as exc:
                logger.error("schedule name=%s slot=%s cannot be enqueued: %s", schedule.name, slot, exc)
                continue
            if result is None:
                continue  # another scheduler got there first
            job_id = result if isinstance(result, str) else result.id
            logger.info(
                "schedule name=%s slot=%s enqueued job id=%s task=%s",
                schedule.name, slot.isoformat(), job_id, schedule.task,
            )  # fmt: skip
            enqueued.append(Enqueued(schedule_name=schedule.name, slot_at=slot, job_id=job_id))
        return enqueued

    def enqueue_slot(
        self, task: Task, args: Sequence[Any], kwargs: Any, schedule_name: str, slot_at: datetime
    ) -> TaskResult | str | None:
        """Enqueue a schedule's job for one slot; None when a scheduler already did.

        Returns the TaskResult of the new job, or the id of the active job
        holding the task's unique key, which then serves the slot.
        """
        job = self.store.jobs.new_job(task, args, kwargs)
        job_id = self.store.broker.enqueue_slot(job, schedule_name, slot_at)
        if job_id is None or job_id != job.id:
            return job_id
        result = ready_results(
            task, self.store.alias, [job.id], [(list(args), dict(kwargs))], job.enqueued_at
        )[0]
        task_enqueued.send(self.store.sender, task_result=result)
        return result

    def run(self, stop: threading.Event, clock: Callable[[], datetime] = timezone.now) -> None:
        """Tick every ``TICK_SECONDS`` until ``stop`` is set, riding out a lost store."""
        backoff = ERROR_BACKOFF_SECONDS[0]
        migrate_wait = MigrateWait(logger, "scheduler")
        while not stop.is_set():
            try:
                self.tick(clock())
                backoff = ERROR_BACKOFF_SECONDS[0]
                migrate_wait.found()
            except StoreNotReady as exc:
                self.store.broker.reset_connection()
                stop.wait(migrate_wait.missing(exc, time.monotonic()))
                continue
            except StoreError as exc:
                logger.warning("store unavailable, retrying in %.1fs: %s", backoff, exc)
                self.store.broker.reset_connection()
                stop.wait(backoff)
                backoff = min(backoff * 2, ERROR_BACKOFF_SECONDS[1])
                continue
            stop.wait(TICK_SECONDS)


def scheduler_for(store: Store) -> Scheduler | None:
    """Return a scheduler for the valid schedules of ``store``, or None when it has none.

    Invalid schedules are left out with an error in the log (the system checks
    report them at start-up, unless they were skipped).
    """
    schedules = []
    for schedule in declared().schedules:
        if found := problems(schedule):
            logger.error("%s; it will not run", " ".join(found))
        elif resolve(schedule).backend == store.alias:
            schedules.append(schedule)
    return Scheduler(store, schedules) if schedules else None
