"""The RabbitMQ broker: jobs' state in a SQL database, their dispatch through RabbitMQ.

Everything a job is (status, results, attempts, schedules, limits, pauses)
stays in the database broker's tables. RabbitMQ carries which job to run:
after the enqueueing transaction commits, each due job's id is published,
confirmed, to its queue's durable quorum queue, and ``dispatched_for``
records it. A worker fetches as many messages as it has room for and holds
exactly those jobs through the database claim (the claim guard: a job
already held, finished, cancelled, paused or not yet due is skipped and its
message acked); a message is acked once its job's outcome is stored. The
relay, run by every worker with each heartbeat and by each claim that finds
nothing to fetch, publishes what no confirmed message carries: jobs whose
publisher died after the commit, retries and delayed jobs once due, jobs
handed back without a message. Jobs under limits are
claimed by the database's limited pass, never through RabbitMQ.

Priorities: quorum queues have none, so each priority a queue's jobs use is
a lane of its own (``connection.Lane``), and a claim fetches from the
highest lanes first, in turn among lanes of equal priority.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from ...exceptions import StoreError
from ...jobs.records import JobBatch, JobRecord, JobStatus, NewJob, claim_order
from ...limits import QueueLimit
from ..contract import ClaimRef, Transition, WorkerInfo, record_then_claim
from ..database import DatabaseBroker, codec
from ..database.limited import Served
from .connection import Delivery, Lane, RabbitMQ

logger = logging.getLogger(__name__)

#: How often a worker relays with its heartbeat; an idle worker polls this often too, relaying then.
RELAY_SECONDS = 1.0
#: A job enqueued less than this ago is left to its publisher: the relay publishes it only if that
#: publisher never confirmed (it died between the commit and the publish).
PUBLISH_GRACE_SECONDS = 2.0
#: How often a worker's relay looks for jobs whose recorded message is gone (see ``_reconcile``).
RECONCILE_SECONDS = 5.0
#: The most jobs one relay pass publishes.
RELAY_BATCH = 500
#: ``dispatched_for`` of a job whose message was acked unused (paused, handed back without one): a
#: time no job is due at, so the relay publishes the job as soon as it may run, with no grace.
FORGOTTEN = datetime(1970, 1, 1, tzinfo=UTC)


class RabbitMQBroker(DatabaseBroker):
    """Jobs in the database named ``alias``; their dispatch through ``rabbitmq``."""

    def __init__(
        self, alias: str, rabbitmq: RabbitMQ, *, queue_limits: Sequence[tuple[str, QueueLimit]] = ()
    ) -> None:
        super().__init__(alias, queue_limits=queue_limits)
        self.rabbitmq = rabbitmq
        self.default_poll_interval_seconds = RELAY_SECONDS  # the relay runs with each idle poll
        self._limited_queues = frozenset(queue for queue, _ in queue_limits)
        self._excluded = sorted(self._limited_queues)  # the relay leaves their jobs to the limited claim
        #: The lanes with READY jobs, as last seen (or published to, or woken for): where claims fetch.
        self._lanes: set[Lane] = set()
        self._local = threading.local()  # per thread: its deliveries by job id, when its relay is due

    # Storing jobs: the row in the caller's transaction, the message after it commits.

    def enqueue(self, job: NewJob) -> JobRecord | None:
        existing = super().enqueue(job)
        if existing is None:
            self._publish_on_commit((job.queue_name, job.priority), [job.id], job.available_at, job.limits)
        return existing

    def enqueue_many(self, batch: JobBatch) -> None:
        super().enqueue_many(batch)
        self._publish_on_commit(
            (batch.queue_name, batch.priority), batch.ids, batch.available_at, batch.limits
        )

    def enqueue_workflow(self, jobs: Sequence[NewJob]) -> None:
        super().enqueue_workflow(jobs)
        for job in jobs:
            if job.links is None or not job.links.waiting_for:  # the others wait for their parents
                self._publish_on_commit(
                    (job.queue_name, job.priority), [job.id], job.available_at, job.limits
                )

    def _publish_on_commit(
        self, lane: Lane, ids: Sequence[str], available_at: datetime, limits: object
    ) -> None:
        """Publish due, unlimited jobs once the transaction commits; nothing if it rolls back.

        Delayed jobs are the relay's when due; limited ones the limited claim's.
        """
        if not ids or limits is not None or lane[0] in self._limited_queues or available_at > timezone.now():
            return
        transaction.on_commit(partial(self._publish, lane, list(ids), available_at), using=self.db.alias)

    def _publish(self, lane: Lane, ids: list[str], available_at: datetime) -> None:
        """Publish, then record the confirmed messages; a failure is left to the relay, never raised.

        The jobs are committed: raising would tell the caller an enqueue failed that did not.
        """
        try:
            self.rabbitmq.publish([(lane, job_id) for job_id in ids])
            self._lanes.add(lane)
            self._mark_dispatched([(job_id, available_at) for job_id in ids], fresh=True)
        except StoreError as exc:
            logger.warning("%d jobs committed but not published yet; the relay will: %s", len(ids), exc)

    def _mark_dispatched(self, jobs: Sequence[tuple[str, datetime]], *, fresh: bool) -> None:
        db = self.db
        rows = [(db.id(job_id), db.time(available_at)) for job_id, available_at in jobs]
        per_statement = db.dialect.batch_rows(db.connection, 2, 0)
        with db.cursor("record published jobs") as cursor:
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                cursor.execute(
                    db.sql.mark_dispatched(len(chunk), fresh=fresh), db.dialect.table_params(chunk)
                )

    # The relay.

    def relay(self, now: datetime) -> int:
        """Publish due jobs without a confirmed message (see the module's docstring); return how many.

        The rows stay locked (where the database can) until their messages are
        confirmed and recorded: two workers' relays do not publish them twice.
        """
        db = self.db
        params = [db.time(now), db.time(self._grace_end(now)), *self._excluded, RELAY_BATCH]
        with db.atomic("relay unpublished jobs") as cursor:
            cursor.execute(db.sql.undispatched(len(self._excluded)), params)
            published = self._republish(cursor.fetchall())
        if published:
            logger.info("relay published %d jobs that had no message", published)
        return published

    def heartbeat(
        self, worker: WorkerInfo, now: datetime, lease_expires_at: datetime, held: Sequence[ClaimRef] = ()
    ) -> None:
        """Also, with each heartbeat: learn the lanes with READY jobs, relay, and look for stranded jobs.

        Here rather than in the claim, which relays only when it finds nothing to fetch: a busy
        worker's claims stay one fetch and one statement.
        """
        super().heartbeat(worker, now, lease_expires_at, held)
        if time.monotonic() < getattr(self._local, "relay_at", 0.0):
            return
        self._local.relay_at = time.monotonic() + RELAY_SECONDS
        db = self.db
        with db.cursor("list the queues with ready jobs") as cursor:
            cursor.execute(db.sql.ready_lanes)
            self._lanes.update((queue_name, priority) for queue_name, priority in cursor.fetchall())
        self.relay(now)
        if time.monotonic() >= getattr(self._local, "reconcile_at", 0.0):
            self._local.reconcile_at = time.monotonic() + RECONCILE_SECONDS
            self._reconcile(now)

    def _grace_end(self, now: datetime) -> datetime:
        return now - timedelta(seconds=PUBLISH_GRACE_SECONDS)

    def _reconcile(self, now: datetime) -> int:
        """Publish again the jobs of each empty lane that wait, due past the grace, with a recorded message.

        A message counted as published but gone (lost by a path no test
        found, or purged by hand) would leave its job READY forever; an empty
        queue beside a job due for a while says that happened. A message a
        worker fetched and has not yet claimed makes a duplicate, dropped by
        the claim guard.
        """
        db = self.db
        published = 0
        for lane in sorted(frozenset(self._lanes)):
            if lane[0] in self._limited_queues or self.rabbitmq.waiting(lane):
                continue
            with db.atomic("publish stranded jobs") as cursor:
                params = [db.time(now), *lane, db.time(self._grace_end(now)), *self._excluded, RELAY_BATCH]
                cursor.execute(db.sql.stranded(len(self._excluded)), params)
                published += self._republish(cursor.fetchall())
        if published:
            logger.warning("relay published %d jobs again whose message was gone", published)
        return published

    def _republish(self, rows: Sequence[tuple[object, str, int, object]]) -> int:
        """Publish rows (id, queue, priority, available_at) read under lock, and record their messages."""
        jobs = [
            (codec.job_id(job_id), (queue_name, priority), codec.to_datetime(at))
            for job_id, queue_name, priority, at in rows
        ]
        if jobs:
            self.rabbitmq.publish([(lane, job_id) for job_id, lane, _ in jobs])
            self._lanes.update(lane for _, lane, _ in jobs)
            self._mark_dispatched([(job_id, at) for job_id, _, at in jobs if at is not None], fresh=False)
        return len(jobs)

    # Running jobs: fetch messages, hold exactly their jobs, ack once the outcome is stored.

    @property
    def _deliveries(self) -> dict[str, Delivery]:
        """This thread's unacked messages, by the job each carries."""
        if not hasattr(self._local, "deliveries"):
            self._local.deliveries = {}
        return self._local.deliveries

    def _claim_plain(
        self, worker_id: str, where: Served, limit: int, now: datetime, lease_expires_at: datetime
    ) -> list[JobRecord]:
        relayed = False
        claimed: list[JobRecord] = []
        while len(claimed) < limit:
            deliveries = self._fetch(self._served_lanes(where), limit - len(claimed))
            if deliveries:
                # A message is published once its job is due: judge that by the time it was fetched,
                # not by when this claim began (the job may have been enqueued since).
                fetched_at = max(now, timezone.now())
                claimed += self._hold_delivered(worker_id, deliveries, fetched_at, lease_expires_at)
            elif relayed or not self.relay(now):
                break  # nothing to fetch, and nothing left for the relay to publish
            else:
                relayed = True
        return sorted(claimed, key=claim_order)

    def _served_lanes(self, where: Served) -> list[list[Lane]]:
        """The known lanes of the served queues, grouped by priority, highest first."""
        lanes = [
            lane
            for lane in frozenset(self._lanes)  # a snapshot: the listener thread adds lanes
            if (lane[0] in where.plain if where.plain else lane[0] not in where.excluded)
        ]
        by_priority: dict[int, list[Lane]] = {}
        for lane in sorted(lanes):
            by_priority.setdefault(lane[1], []).append(lane)
        return [by_priority[priority] for priority in sorted(by_priority, reverse=True)]

    def _fetch(self, lanes_by_priority: list[list[Lane]], limit: int) -> list[Delivery]:
        """Up to ``limit`` messages: highest lanes first, in turn among equal ones, each until it runs dry."""
        fetched: list[Delivery] = []
        for lanes in lanes_by_priority:
            open_lanes = list(lanes)
            while open_lanes and len(fetched) < limit:
                for lane in list(open_lanes):
                    delivery = self.rabbitmq.fetch(lane)
                    if delivery is None:
                        open_lanes.remove(lane)
                        continue
                    fetched.append(delivery)
                    if len(fetched) == limit:
                        return fetched
        return fetched

    def _hold_delivered(
        self, worker_id: str, deliveries: list[Delivery], now: datetime, lease_expires_at: datetime
    ) -> list[JobRecord]:
        """Hold the delivered jobs the claim guard allows; forget and ack the others' messages."""
        db = self.db
        by_job: dict[str, Delivery] = {}
        extra: list[Delivery] = []  # a second message for one job, or one carrying no job id
        for delivery in deliveries:
            try:
                db.id(delivery.job_id)
            except ValueError:
                extra.append(delivery)
                continue
            if delivery.job_id in by_job:
                extra.append(delivery)
            else:
                by_job[delivery.job_id] = delivery
        ids = list(by_job)
        # One transaction: a failure leaves no job held that this worker would not know it holds.
        with db.atomic("claim delivered jobs"):
            jobs = self._hold_ids(worker_id, ids, now, lease_expires_at) if ids else []
            held = {job.id for job in jobs}
            skipped = [job_id for job_id in ids if job_id not in held]
            if skipped:  # before the ack: a job left READY without a message is the relay's once it may run
                self._forget(skipped)
        for job_id in held:
            # Held again after it was taken back from this worker (its lease ran out): the old message's
            # work is over. (Dropping a message because this worker once held its job stranded jobs.)
            if job_id in self._deliveries:
                extra.append(self._deliveries[job_id])
            self._deliveries[job_id] = by_job[job_id]
        self._settle_deliveries([by_job[job_id] for job_id in skipped] + extra, requeue=None)
        return jobs

    def _hold_ids(
        self, worker_id: str, ids: list[str], now: datetime, lease_expires_at: datetime
    ) -> list[JobRecord]:
        db = self.db
        db_ids = codec.db_ids(db.connection, ids)
        sql = db.sql.claim_delivered(len(ids))
        lease = db.time(lease_expires_at)
        if db.dialect.update_returning:
            with db.cursor("claim delivered jobs") as cursor:
                cursor.execute(sql, [worker_id, lease, *db_ids, db.time(now)])
                return db.fetch_jobs(cursor)
        with db.atomic("claim delivered jobs") as cursor:
            cursor.execute(sql, [*db_ids, db.time(now)])
            jobs = db.fetch_jobs(cursor)
            if jobs:
                picked = [db.id(job.id) for job in jobs]
                cursor.execute(db.sql.hold(len(picked)), [worker_id, lease, *picked])
        return [job.evolve(worker_id=worker_id) for job in jobs]

    def record(self, worker_id: str | None, transitions: Sequence[Transition]) -> set[str]:
        refused = super().record(worker_id, transitions)
        # Stored (or refused: the job was taken back): the message's work is done. A retry's READY
        # has a new available_at, so the relay publishes it when due.
        ended = [t.job_id for t in transitions if t.status != JobStatus.RUNNING or t.job_id in refused]
        self._settle(ended, requeue=None)
        return refused

    # Apart, not the database store's one transaction: record acks messages, which must follow the
    # outcome's commit (an ack inside a transaction that then rolled back would leave a job with none).
    record_and_claim = record_then_claim

    def release(self, worker_id: str | None, claims: Sequence[ClaimRef], *, lost: bool = False) -> None:
        super().release(worker_id, claims, lost=lost)
        ids = [claim.job_id for claim in claims]
        unknown = [job_id for job_id in ids if job_id not in self._deliveries]
        if unknown:  # another worker's jobs (taken back), or this one's after its connection dropped
            self._forget(unknown)
        self._settle(ids, requeue=True)  # its message goes back to the queue, for any worker

    def _forget(self, job_ids: Sequence[str]) -> None:
        """Mark READY jobs as having no message: the relay publishes them when they may run."""
        db = self.db
        with db.cursor("forget acked messages") as cursor:
            cursor.execute(
                db.sql.forget_dispatch(len(job_ids)),
                [db.time(FORGOTTEN), *codec.db_ids(db.connection, job_ids)],
            )

    def _settle(self, job_ids: Sequence[str], *, requeue: bool | None) -> None:
        mine = self._deliveries
        self._settle_deliveries([mine.pop(job_id) for job_id in job_ids if job_id in mine], requeue=requeue)

    def _settle_deliveries(self, deliveries: Sequence[Delivery], *, requeue: bool | None) -> None:
        """Ack or hand back messages after a stored write; a lost connection does not undo that write."""
        if not deliveries:
            return
        try:
            self.rabbitmq.settle(deliveries, requeue=requeue)
        except StoreError as exc:
            # The write they follow is stored: that stands. RabbitMQ returns the messages of the lost
            # connection, and the claim guard drops them (or holds a job handed back).
            logger.info("%d messages not settled, RabbitMQ hands them out again: %s", len(deliveries), exc)

    def listen(self, wake: Callable[[str], None], stop: threading.Event) -> None:
        """Wake on every job published: the exchange copies each message to this worker's own queue."""

        def woken(lane: Lane) -> None:
            self._lanes.add(lane)
            wake(lane[0])

        try:
            self.rabbitmq.listen(woken, stop)
        finally:
            self.rabbitmq.reset()  # the listening connection is this thread's alone

    def delete_queues(self) -> None:
        """Delete the quorum queues this process declared and forget their lanes (tests, the bench)."""
        self.rabbitmq.reset()  # a connection from before a restart would fail first
        self.rabbitmq.delete_queues(sorted(self.rabbitmq.declared))
        self._lanes.clear()

    def reset_connection(self) -> None:
        super().reset_connection()
        self.rabbitmq.reset()
        self._deliveries.clear()  # RabbitMQ hands them out again
