"""The database claim's limited pass: jobs under a concurrency or rate limit, taken under their groups' locks.

A group is a job's ``limit_key`` (a task's limits, per key) or a queue with
``QUEUE_LIMITS``. Each pass locks the group's row in ``backroom_limit``
first (an UPDATE, so SQLite takes its write lock too), counts the group's
held jobs afresh (a dead worker's stop counting once taken back: nothing
drifts), reads its rate's next start, and holds the jobs it allows in the
same transaction: two workers' claims never race. Jobs of a full group are
skipped, never waited behind; they stay READY and uncharged.
"""

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...jobs.records import JobRecord, claim_order
from ...limits import QUEUE_GROUP, RECHECK_SECONDS, Allowance, QueueLimit, allowance, stored_spacing
from . import codec
from .connection import Database

#: The most limit keys one claim looks at.
GROUPS_PER_CLAIM = 20
#: Candidates read beyond the room: jobs of full keys are passed over, not waited behind.
SKIP_AHEAD = 50
#: While no limited job is ready and the unlimited claim fills the room, how often to look for one.
PROBE_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Served:
    """The queues of one claim, split between the limited pass and the plain claim."""

    limited: list[tuple[str, QueueLimit]]  # the served queues with QUEUE_LIMITS
    plain: list[str]  # the other served queues; empty with ``every``
    excluded: list[str]  # with ``every``: the queues with limits, which the plain claim leaves
    every: bool  # the worker serves every queue

    @property
    def has_plain(self) -> bool:
        return self.every or bool(self.plain)


def served(queue_limits: Sequence[tuple[str, QueueLimit]], queues: Sequence[str]) -> Served:
    """Split the queues a claim serves (empty: every queue) by whether they have QUEUE_LIMITS."""
    limits = dict(queue_limits)
    if not queues:
        return Served(limited=sorted(limits.items()), plain=[], excluded=sorted(limits), every=True)
    return Served(
        limited=[(q, limits[q]) for q in queues if q in limits],
        plain=[q for q in queues if q not in limits],
        excluded=[],
        every=False,
    )


class LimitedClaim:
    """Claims limited jobs for one database store; remembers, per thread, when to look again."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._local = threading.local()
        #: Whether a limited job waited at the worker's last heartbeat. Until one does, claims look
        #: for no limited job: a store that does not use limits pays nothing for them.
        self.in_use = False

    def due(self) -> bool:
        """Whether this claim should look for limited jobs (always, unless none were found lately)."""
        return self.in_use and time.monotonic() >= getattr(self._local, "probe_at", 0.0)

    def found_none(self, plain_claim_full: bool) -> None:
        """No limited job was ready: while the plain claim keeps the worker busy, look less often."""
        self._local.probe_at = time.monotonic() + PROBE_SECONDS if plain_claim_full else 0.0

    def held_back_seconds(self) -> float | None:
        return getattr(self._local, "wait", None)

    def forget_held_back(self) -> None:
        self._local.wait = None

    def claim(
        self, worker_id: str, where: Served, room: int, now: datetime, lease_expires_at: datetime
    ) -> list[JobRecord] | None:
        """Hold up to ``room`` limited jobs; None when no limited job is ready (nothing to wait for)."""
        db = self.db
        jobs: list[JobRecord] = []
        any_ready = False
        for queue, limit in where.limited:
            if len(jobs) >= room:
                break
            taken = self._claim_group(worker_id, where, room - len(jobs), now, lease_expires_at, queue, limit)
            any_ready = any_ready or taken is not None
            jobs += taken or []
        if where.has_plain and len(jobs) < room and self.due():
            params = [db.time(now), *where.plain, *where.excluded, db.time(now), GROUPS_PER_CLAIM]
            with db.cursor("find limited jobs") as cursor:
                cursor.execute(db.sql.limited_groups(len(where.plain), len(where.excluded)), params)
                keys = [row[0] for row in cursor.fetchall()]
            any_ready = any_ready or bool(keys)
            for key in keys:
                if len(jobs) >= room:
                    break
                jobs += (
                    self._claim_group(worker_id, where, room - len(jobs), now, lease_expires_at, key) or []
                )
        return sorted(jobs, key=claim_order) if any_ready else None

    def _claim_group(
        self,
        worker_id: str,
        where: Served,
        room: int,
        now: datetime,
        lease_expires_at: datetime,
        name: str,
        queue_limit: QueueLimit | None = None,
    ) -> list[JobRecord] | None:
        """Hold the jobs one group allows: a limit key's (no ``queue_limit``), or a limited queue's.

        The group's row is locked first, by a write: SQLite then holds its
        write lock for the whole transaction (a read first could not upgrade).
        """
        db = self.db
        by_key = queue_limit is None
        primary = name if by_key else QUEUE_GROUP + name
        with db.atomic("claim limited jobs") as cursor:
            self._acquire(cursor, primary)
            groups: dict[str, Allowance] = {}
            if queue_limit is not None:
                spacing = None if queue_limit.rate is None else queue_limit.rate.spacing_seconds
                groups[primary] = self._allowance(
                    cursor, primary, queue_limit.concurrency, spacing, now, name
                )
                if not groups[primary].left:
                    return []
            queues = where.plain if by_key else []
            excluded = where.excluded if by_key else []
            params = [name, db.time(now), *queues, *excluded, room + SKIP_AHEAD]
            cursor.execute(db.sql.limited_pick(by_key, len(queues), len(excluded)), params)
            candidates = db.fetch_jobs(cursor)
            if not candidates:
                return None
            keys = sorted({job.limits.key: job.limits for job in candidates if job.limits}.items())
            for key, limits in keys:  # in one order, so that two claims never wait for each other
                if key != primary:
                    self._acquire(cursor, key)
                groups[key] = self._allowance(
                    cursor, key, limits.concurrency, stored_spacing(limits.rate), now
                )
            picked: list[JobRecord] = []
            for job in candidates:  # in claim order
                if len(picked) >= room:
                    break
                own = [
                    groups[key] for key in (None if by_key else primary, job.limits and job.limits.key) if key
                ]
                if all(group.left > 0 for group in own):
                    for group in own:
                        group.take()
                    picked.append(job)
            if picked:
                ids = [db.id(job.id) for job in picked]
                hold = db.sql.hold(len(ids))
                cursor.execute(hold, [worker_id, db.time(lease_expires_at), *ids])
            for group_name, group in groups.items():
                if group.taken and group.spacing is not None:
                    next_start = now + timedelta(seconds=group.spacing * group.taken)
                    cursor.execute(db.sql.set_next_start, (db.time(next_start), group_name))
        if len(picked) < len(candidates) and len(picked) < room:  # a group held some back
            for group in groups.values():
                if group.left <= 0:
                    self._wait(
                        group.spacing * group.taken if group.spacing and group.taken else RECHECK_SECONDS
                    )
        return [job.evolve(worker_id=worker_id) for job in picked]

    def _acquire(self, cursor: Any, group: str) -> None:
        """Lock a group's row, creating it on first use: claims of its jobs wait for each other here."""
        cursor.execute(self.db.sql.lock_limit, (group,))

    def _allowance(
        self,
        cursor: Any,
        group: str,
        concurrency: int | None,
        spacing: float | None,
        now: datetime,
        queue: str | None = None,
    ) -> Allowance:
        """What a locked group allows now: its held jobs counted afresh, its rate's next start read."""
        db = self.db
        cursor.execute(db.sql.read_limit, (group,))
        row = cursor.fetchone()
        next_start = codec.to_datetime(row[0]) if row else None
        held = 0
        if concurrency is not None:
            sql, param = (db.sql.held_in_queue, queue) if queue else (db.sql.held_of_key, group)
            cursor.execute(sql, (param,))
            held = cursor.fetchone()[0]
        next_in = None if next_start is None else (next_start - now).total_seconds()
        found, wait = allowance(concurrency, held, spacing, next_in)
        if wait is not None:
            self._wait(wait)
        return found

    def _wait(self, seconds: float) -> None:
        current = getattr(self._local, "wait", None)
        self._local.wait = seconds if current is None else min(current, seconds)
