"""The broker for Redis: each write is one Lua script, which Redis runs atomically.

Every write made on behalf of a worker is guarded by the claim (job id,
worker id, attempt), so a late write after a reap changes nothing. Every key
lives under the configured prefix; docs/redis.md describes the layout.
"""

import functools
import itertools
import json
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import redis
from django.db import transaction

from ...exceptions import StoreUnavailable
from ...models import ACTIVE_STATUSES
from ...serialization import dumps
from ..base import (
    LOST_WORKER_ERROR,
    LOST_WORKER_TRACEBACK,
    REAP_BATCH,
    STALE_WORKER_RETENTION,
    ClaimRef,
    JobBatch,
    JobRecord,
    NewJob,
    Outcome,
    Pruned,
    Reaped,
    SlotRun,
    WorkerInfo,
)
from .codec import as_mapping, from_micros, micros, new_job_fields, record
from .scripts import Scripts

#: redis-py errors that mean Redis cannot serve us for now: down, loading, failing over.
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)
#: Connection settings unless the REDIS_URL's query string (``?socket_timeout=...``) says otherwise.
CLIENT_DEFAULTS: dict[str, Any] = {
    "socket_timeout": 10.0,
    "socket_connect_timeout": 5.0,
    "health_check_interval": 30,
}
#: Jobs per enqueue_many script call.
ENQUEUE_MANY_CHUNK = 1000
#: How long the listener waits for a message before it looks at its stop event.
LISTEN_TIMEOUT_SECONDS = 0.5


def _reports_unavailable[**P, R](method: Callable[P, R]) -> Callable[P, R]:
    """Raise StoreUnavailable when Redis cannot be reached, as the worker expects of any store."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    return wrapper


def _job_arguments(job: NewJob) -> list[str]:
    """The arguments that describe a new job to the enqueue scripts (see store_job in common.lua)."""
    delayed = "1" if job.available_at > job.enqueued_at else ""
    args = [job.id, job.queue_name, job.unique_key or "", delayed]
    args.extend(itertools.chain.from_iterable(new_job_fields(job).items()))
    return args


def _in_batches(script: Any, args: list[str], batch_size: int) -> int:
    """Run a bounded delete script, one short atomic call each, until a batch comes back short."""
    deleted = 0
    while True:
        count = int(script(args=[*args, batch_size]))
        deleted += count
        if count < batch_size:
            return deleted


class RedisBroker:
    """Jobs in Redis at ``url``, every key starting with ``prefix:``.

    One client (one connection pool) serves every thread of the process that
    uses this broker; the listener takes a connection of its own.
    """

    #: Enqueue publishes to idle workers at once; polling only finds delayed jobs and retries.
    default_poll_interval_seconds = 1.0

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        on_commit_database: str | None = None,
        result_ttl_seconds: float | None = None,
    ) -> None:
        self.prefix = prefix
        self.on_commit_database = on_commit_database
        self._ttl_ms = "" if result_ttl_seconds is None else str(round(result_ttl_seconds * 1000))
        self.client = redis.Redis.from_url(url, decode_responses=True, **CLIENT_DEFAULTS)
        self.scripts = Scripts.register(self.client)

    def key(self, *parts: str) -> str:
        """Return the name of one of this broker's keys, as the Lua scripts build it."""
        return ":".join((self.prefix, *parts))

    # What backends call.

    @_reports_unavailable
    def enqueue(self, job: NewJob) -> JobRecord | None:
        database = self.on_commit_database
        if database is not None and transaction.get_connection(database).in_atomic_block:
            # Written once the caller's transaction commits; nothing if it rolls back.
            transaction.on_commit(functools.partial(self._store, job), using=database)
            return self._active(job.unique_key) if job.unique_key else None
        return self._store(job)

    @_reports_unavailable  # also when called on commit
    def _store(self, job: NewJob) -> JobRecord | None:
        existing = self.scripts.enqueue(args=[self.prefix, *_job_arguments(job)])
        return record(as_mapping(existing)) if existing else None

    @_reports_unavailable
    def enqueue_many(self, batch: JobBatch) -> None:
        database = self.on_commit_database
        if database is not None and transaction.get_connection(database).in_atomic_block:
            # Written once the caller's transaction commits; nothing if it rolls back.
            transaction.on_commit(functools.partial(self._store_many, batch), using=database)
        else:
            self._store_many(batch)

    @_reports_unavailable  # also when called on commit
    def _store_many(self, batch: JobBatch) -> None:
        if not batch.ids:
            return
        shared = new_job_fields(batch.job(0))
        for own in ("id", "args", "kwargs"):
            del shared[own]
        delayed = "1" if batch.available_at > batch.enqueued_at else ""
        head: list[Any] = [
            self.prefix,
            batch.queue_name,
            delayed,
            len(shared),
            *itertools.chain.from_iterable(shared.items()),
        ]
        # One script call per chunk keeps each short; MULTI/EXEC stores the chunks all or none.
        pipe = self.client.pipeline(transaction=True)
        for start, end in batch.chunks(ENQUEUE_MANY_CHUNK):
            rows = zip(batch.ids[start:end], batch.args[start:end], batch.kwargs[start:end], strict=True)
            self.scripts.enqueue_many(args=[*head, *itertools.chain.from_iterable(rows)], client=pipe)
        pipe.execute()

    @_reports_unavailable
    def enqueue_slot(self, job: NewJob, schedule_name: str, slot_at: datetime) -> str | None:
        args = [self.prefix, schedule_name, micros(slot_at), micros(job.enqueued_at), *_job_arguments(job)]
        return cast(str | None, self.scripts.enqueue_slot(args=args) or None)

    @_reports_unavailable
    def last_slots(self, schedule_names: Sequence[str]) -> dict[str, SlotRun]:
        pipe = self.client.pipeline(transaction=False)
        for name in schedule_names:
            pipe.zrange(self.key("schedule", name, "slots"), -1, -1)
        latest = dict(zip(schedule_names, pipe.execute(), strict=True))
        found = {name: slots[0] for name, slots in latest.items() if slots}
        for name, slot in found.items():
            pipe.hget(self.key("schedule", name, "runs"), slot)
        runs = {}
        for (name, slot), served in zip(found.items(), pipe.execute(), strict=True):
            job_id, enqueued_at = served.split(" ")
            runs[name] = SlotRun(
                schedule_name=name,
                slot_at=cast(datetime, from_micros(slot)),
                job_id=job_id,
                enqueued_at=cast(datetime, from_micros(enqueued_at)),
            )
        return runs

    def _active(self, unique_key: str) -> JobRecord | None:
        """The READY or RUNNING job holding ``unique_key``, if any."""
        holder = cast(str | None, self.client.hget(self.key("unique"), unique_key))
        found = None if holder is None else self.get(holder)
        return found if found is not None and found.status in ACTIVE_STATUSES else None

    @_reports_unavailable
    def get(self, job_id: str) -> JobRecord | None:
        fields = cast(dict[str, str], self.client.hgetall(self.key("job", job_id)))
        return record(fields) if fields else None

    # What workers call.

    @_reports_unavailable
    def claim(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        now: datetime,
        lease_expires_at: datetime,
    ) -> list[JobRecord]:
        args: list[str | int] = [self.prefix, worker_id, micros(now), micros(lease_expires_at), limit]
        args.extend(queues)
        return [record(as_mapping(job)) for job in self.scripts.claim(args=args)]

    @_reports_unavailable
    def persist(self, worker_id: str, outcomes: Sequence[Outcome]) -> None:
        args: list[str | int] = [self.prefix, worker_id, self._ttl_ms]
        for outcome in outcomes:
            args += [
                outcome.job_id,
                outcome.attempt,
                outcome.status,
                micros(outcome.finished_at),
                "" if outcome.available_at is None else micros(outcome.available_at),
                outcome.return_value or "",
                "" if outcome.error is None else dumps(outcome.error),
            ]
        self.scripts.persist(args=args)

    @_reports_unavailable
    def release(self, worker_id: str, claims: Sequence[ClaimRef]) -> None:
        args: list[str | int] = [self.prefix, worker_id]
        for claim in claims:
            args += [claim.job_id, claim.attempt]
        self.scripts.release(args=args)

    @_reports_unavailable
    def heartbeat(self, worker: WorkerInfo, now: datetime, lease_expires_at: datetime) -> None:
        info = {
            "hostname": worker.hostname,
            "pid": worker.pid,
            "queues": worker.queues,
            "concurrency": worker.concurrency,
            "backend": worker.backend,
            "started_at": worker.started_at.isoformat(),
            "last_heartbeat_at": now.isoformat(),
        }
        args = [self.prefix, worker.id, micros(now), micros(lease_expires_at), dumps(info)]
        self.scripts.heartbeat(args=args)

    @_reports_unavailable
    def reap(self, now: datetime) -> list[Reaped]:
        args: list[str | int] = [
            self.prefix, micros(now), now.isoformat(), micros(now - STALE_WORKER_RETENTION),
            REAP_BATCH, self._ttl_ms, LOST_WORKER_ERROR, LOST_WORKER_TRACEBACK,
        ]  # fmt: skip
        return [
            Reaped(job_id=job_id, task_path=task_path, worker_id=owner, status=status)
            for job_id, task_path, owner, status in self.scripts.reap(args=args)
        ]

    @_reports_unavailable
    def unregister(self, worker_id: str) -> None:
        self.scripts.unregister(args=[self.prefix, worker_id])

    @_reports_unavailable
    def set_progress(self, claim: ClaimRef, progress: Any) -> None:
        self.scripts.set_progress(args=[self.prefix, claim.job_id, claim.attempt, json.dumps(progress)])

    @_reports_unavailable
    def is_cancel_requested(self, job_id: str) -> bool:
        return self.client.hget(self.key("job", job_id), "cancel_requested") == "1"

    @_reports_unavailable
    def listen(self, wake: Callable[[str], None], stop: threading.Event) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.key("enqueued"))
            while not stop.is_set():
                message = pubsub.get_message(timeout=LISTEN_TIMEOUT_SECONDS)
                if message is not None:
                    wake(message["data"])
        finally:
            pubsub.close()

    @_reports_unavailable
    def prune(self, successful_before: datetime, failed_before: datetime, batch_size: int) -> Pruned:
        jobs = 0
        for status, before in (
            ("successful", successful_before),
            ("failed", failed_before),
            ("cancelled", failed_before),
        ):
            jobs += _in_batches(self.scripts.prune, [self.prefix, status, micros(before)], batch_size)
        slots_before = micros(min(successful_before, failed_before))
        schedule_runs = _in_batches(self.scripts.prune_slots, [self.prefix, slots_before], batch_size)
        return Pruned(jobs=jobs, schedule_runs=schedule_runs)

    def reset_connection(self) -> None:
        # In-use connections belong to other threads; redis-py already dropped the broken one.
        self.client.connection_pool.disconnect(inuse_connections=False)

    # Housekeeping.

    @_reports_unavailable
    def delete_all_keys(self) -> int:
        """Delete every key under this broker's prefix, without touching others; return the count."""
        deleted = 0
        keys = self.client.scan_iter(match=self.key("*"), count=1000)
        for batch in itertools.batched(keys, 500):
            deleted += self.client.unlink(*batch)
        return deleted
