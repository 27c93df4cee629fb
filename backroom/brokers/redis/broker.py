"""The broker for Redis (one server or a cluster): each write is a Lua script over one queue's keys.

Every write made on behalf of a worker is guarded by its claim (job id,
worker id, attempt), so a late write after a job was taken back changes
nothing. docs/redis.md describes the layout.
"""

import functools
import itertools
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from ...jobs.building import new_job_ids
from ...jobs.json import dumps
from ...jobs.links import settling_error
from ...jobs.records import ACTIVE, JobBatch, JobRecord, JobStatus, NewJob, claim_order
from ...limits import QueueLimit
from ..codec import links_or_none, whole_number
from ..contract import ClaimRef, HeldJob, Pruned, SlotRun, Transition, WorkerInfo
from .codec import as_mapping, from_micros, job_from_hash, micros, new_job_fields
from .connection import RedisStore, process_name, translated
from .keys import slot_of, with_slot

#: Jobs per enqueue_many script call.
ENQUEUE_MANY_CHUNK = 1000
#: How long the listener waits for a message before it looks at its stop event.
LISTEN_TIMEOUT_SECONDS = 0.5


def _job_arguments(job: NewJob) -> list[str]:
    """What describes a new job to the enqueue scripts after the queue (see store_job in common.lua)."""
    delayed = "1" if job.available_at > job.enqueued_at else ""
    args = [job.id, job.unique_key or "", delayed]
    args.extend(itertools.chain.from_iterable(new_job_fields(job).items()))
    return args


class RedisBroker:
    """Jobs in Redis, every key under the configured prefix."""

    joins_transactions = False
    #: Enqueue publishes to idle workers at once; polling only finds delayed jobs and retries.
    default_poll_interval_seconds = 1.0

    def __init__(
        self,
        redis_store: RedisStore,
        *,
        on_commit_database: str | None = None,
        result_ttl_seconds: float | None = None,
        queue_limits: Sequence[tuple[str, QueueLimit]] = (),
    ) -> None:
        self.redis = redis_store
        self.keys = redis_store.keys
        # A script touches one slot of a cluster: there, a workflow keeps to one queue.
        self.workflows_span_queues = not redis_store.cluster
        self.on_commit_database = on_commit_database
        self.ttl_ms = "" if result_ttl_seconds is None else str(round(result_ttl_seconds * 1000))
        # Each limited queue's concurrency and rate spacing (us), 0 for none, as the claim script reads them.
        self.queue_limits = json.dumps({queue: _script_limits(limit) for queue, limit in queue_limits})
        self._local = threading.local()  # what this thread's last claim held back

    # Storing jobs.

    def new_ids(self, queue_name: str, count: int) -> list[str]:
        slot = self.keys.slot(queue_name)
        return [with_slot(job_id, slot) for job_id in new_job_ids(count)]

    def _after_commit(self, write: Callable[[], Any]) -> bool:
        """Defer ``write`` to the caller's commit when asked to (ENQUEUE_ON_COMMIT); return whether it was."""
        database = self.on_commit_database
        if database is None or not transaction.get_connection(database).in_atomic_block:
            return False
        transaction.on_commit(write, using=database)  # nothing is written if it rolls back
        return True

    @translated
    def enqueue(self, job: NewJob) -> JobRecord | None:
        if self._after_commit(functools.partial(self._store, job)):
            return self._active(job.queue_name, job.unique_key) if job.unique_key else None
        return self._store(job)

    @translated  # also when called on commit
    def _store(self, job: NewJob) -> JobRecord | None:
        queue = job.queue_name
        args = [self.keys.base(queue), self.keys.channel, queue, *_job_arguments(job)]

        def build(pipe: Any) -> None:
            pipe.sadd(self.keys.queues, queue)
            self.redis.run(self.redis.scripts.enqueue, [queue], args, client=pipe)

        _, existing = self.redis.pipelined(build)
        return job_from_hash(as_mapping(existing)) if existing else None

    @translated
    def enqueue_many(self, batch: JobBatch) -> None:
        if not self._after_commit(functools.partial(self._store_many, batch)):
            self._store_many(batch)

    @translated  # also when called on commit
    def _store_many(self, batch: JobBatch) -> None:
        if not batch.ids:
            return
        queue = batch.queue_name
        shared = new_job_fields(batch.job(0))
        for own in ("id", "args", "kwargs"):
            del shared[own]
        delayed = "1" if batch.available_at > batch.enqueued_at else ""
        head: list[Any] = [
            self.keys.base(queue), self.keys.channel, queue, delayed, len(shared),
            *itertools.chain.from_iterable(shared.items()),
        ]  # fmt: skip

        def build(pipe: Any) -> None:
            for start, end in batch.chunks(ENQUEUE_MANY_CHUNK):
                rows = zip(batch.ids[start:end], batch.args[start:end], batch.kwargs[start:end], strict=True)
                args = [*head, *itertools.chain.from_iterable(rows)]
                self.redis.run(self.redis.scripts.enqueue_many, [queue], args, client=pipe)

        # One script call per chunk keeps each short; MULTI/EXEC (one queue, one slot) stores all or none.
        self.redis.pipelined(build, transaction=True)
        self.redis.client.sadd(self.keys.queues, queue)

    @translated
    def enqueue_workflow(self, jobs: Sequence[NewJob]) -> None:
        if not self._after_commit(functools.partial(self._store_workflow, jobs)):
            self._store_workflow(jobs)

    @translated  # also when called on commit
    def _store_workflow(self, jobs: Sequence[NewJob]) -> None:
        queues = sorted({job.queue_name for job in jobs})
        args: list[Any] = [self.keys.channel]
        for job in jobs:
            fields = new_job_fields(job)
            waiting = job.links is not None and job.links.waiting_for > 0
            delayed = "w" if waiting else "1" if job.available_at > job.enqueued_at else ""
            args += [self.keys.base(job.queue_name), job.queue_name, job.id, delayed, len(fields)]
            args.extend(itertools.chain.from_iterable(fields.items()))

        def build(pipe: Any) -> None:
            pipe.sadd(self.keys.queues, *queues)
            self.redis.run(self.redis.scripts.enqueue_workflow, queues, args, client=pipe)

        self.redis.pipelined(build)

    @translated
    def enqueue_slot(self, job: NewJob, schedule_name: str, slot_at: datetime) -> str | None:
        queue = job.queue_name
        self.redis.client.sadd(self.keys.queues, queue)
        args = [
            self.keys.base(queue), self.keys.channel, queue, schedule_name, micros(slot_at),
            micros(job.enqueued_at), *_job_arguments(job),
        ]  # fmt: skip
        return self.redis.run(self.redis.scripts.enqueue_slot, [queue], args) or None

    @translated
    def last_slots(self, schedule_names: Sequence[str]) -> dict[str, SlotRun]:
        runs: dict[str, SlotRun] = {}
        queues = sorted(self.redis.queue_names())
        found: dict[tuple[str, str], list[str]] = {}
        with self.redis.pipeline() as pipe:
            for queue in queues:
                for name in schedule_names:
                    pipe.zrange(self.keys.of_queue(queue, f"schedule:{name}:slots"), -1, -1)
            replies = iter(pipe.execute())
            for queue in queues:
                for name in schedule_names:
                    found[queue, name] = next(replies)
        latest: dict[str, tuple[str, str]] = {}
        for (queue, name), slots in found.items():
            if slots and (name not in latest or int(slots[0]) > int(latest[name][1])):
                latest[name] = (queue, slots[0])
        with self.redis.pipeline() as pipe:
            for name, (queue, slot) in latest.items():
                pipe.hget(self.keys.of_queue(queue, f"schedule:{name}:runs"), slot)
            served = pipe.execute()
        for (name, (_, slot)), run in zip(latest.items(), served, strict=True):
            job_id, enqueued_at = (run or " ").split(" ")
            runs[name] = SlotRun(
                schedule_name=name,
                slot_at=from_micros(slot),  # type: ignore[arg-type]
                job_id=job_id,
                enqueued_at=from_micros(enqueued_at or slot),  # type: ignore[arg-type]
            )
        return runs

    def _active(self, queue: str, unique_key: str) -> JobRecord | None:
        """The READY or RUNNING job of ``queue`` holding ``unique_key``, if any."""
        holder = self.redis.client.hget(self.keys.of_queue(queue, "unique"), unique_key)
        found = None if holder is None else self._read(queue, holder)
        return found if found is not None and found.status in ACTIVE else None

    def _read(self, queue: str, job_id: str) -> JobRecord | None:
        fields = self.redis.client.hgetall(self.keys.job(queue, job_id))
        return job_from_hash(fields) if fields else None

    @translated
    def get(self, job_id: str) -> JobRecord | None:
        """Find a job by id: its id names its queue's hash slot, and few queues share one."""
        slot = slot_of(job_id) if isinstance(job_id, str) else None
        if slot is None:
            return None
        for cached in (True, False):
            queues = [q for q in sorted(self.redis.queue_names(cached)) if self.keys.slot(q) == slot]
            with self.redis.pipeline() as pipe:
                for queue in queues:
                    pipe.hgetall(self.keys.job(queue, job_id))
                for fields in pipe.execute():
                    if fields:
                        return job_from_hash(fields)
        return None

    # Running jobs.

    @translated
    def claim(
        self, worker_id: str, queues: Sequence[str], limit: int, now: datetime, lease_expires_at: datetime
    ) -> list[JobRecord]:
        head: list[Any] = [worker_id, micros(now), micros(lease_expires_at)]
        self._local.held_back = None
        if not queues and not self.redis.cluster:  # every queue, listed inside the script: one round trip
            args = [*head, limit, self.keys.prefix, self.queue_limits]
            jobs = self._claimed(self.redis.scripts.claim(keys=[self.keys.queues], args=args))
        else:
            # A cluster: one call per slot, each taking its best `limit`; the best `limit` of all are
            # kept and the others handed back at once, so that the order holds across queues.
            jobs = []
            for group in self.redis.groups(list(queues) or sorted(self.redis.queue_names())):
                args = [*head, limit, "", self.queue_limits]
                for queue in group:
                    args += [self.keys.base(queue), queue]
                jobs += self._claimed(self.redis.run(self.redis.scripts.claim, group, args))
            jobs.sort(key=claim_order)
            extra = [
                ClaimRef(job_id=j.id, attempt=j.next_attempt, queue_name=j.queue_name) for j in jobs[limit:]
            ]
            self.release(worker_id, extra)
            jobs = jobs[:limit]
        return jobs

    def _claimed(self, reply: list[Any]) -> list[JobRecord]:
        """Read a claim script's reply: how soon a held-back job may be claimed, then the jobs."""
        held_back, *jobs = reply
        if held_back:
            seconds = int(held_back) / 1e6
            current = self._local.held_back
            self._local.held_back = seconds if current is None else min(current, seconds)
        return [job_from_hash(as_mapping(job)) for job in jobs]

    def held_back_seconds(self) -> float | None:
        return getattr(self._local, "held_back", None)

    @translated
    def record(self, worker_id: str | None, transitions: Sequence[Transition]) -> set[str]:
        refused: set[str] = set()
        by_queue: dict[str, list[Transition]] = defaultdict(list)
        for t in transitions:
            by_queue[t.queue_name].append(t)
        for queue, batch in by_queue.items():
            args: list[Any] = [
                self.keys.base(queue), worker_id or "", self.ttl_ms, self.keys.prefix, self.keys.channel,
            ]  # fmt: skip
            for t in batch:
                args += [
                    t.job_id, t.attempt, t.status.value,
                    "" if t.started_at is None else micros(t.started_at),
                    "" if t.finished_at is None else micros(t.finished_at),
                    "" if t.available_at is None else micros(t.available_at),
                    t.return_value or "", "" if t.error is None else dumps(t.error.to_json()),
                    "1" if t.lost else "", _link_error(t),
                ]  # fmt: skip
            refused.update(self.redis.run(self.redis.scripts.record, [queue], args))
        return refused

    @translated
    def release(self, worker_id: str | None, claims: Sequence[ClaimRef], *, lost: bool = False) -> None:
        by_queue: dict[str, list[ClaimRef]] = defaultdict(list)
        for claim in claims:
            by_queue[claim.queue_name].append(claim)
        for queue, batch in by_queue.items():
            args: list[Any] = [
                self.keys.base(queue),
                self.keys.channel,
                queue,
                worker_id or "",
                "1" if lost else "",
            ]
            for claim in batch:
                args += [claim.job_id, claim.attempt, "1" if claim.started else ""]
            self.redis.run(self.redis.scripts.release, [queue], args)

    @translated
    def heartbeat(
        self, worker: WorkerInfo, now: datetime, lease_expires_at: datetime, held: Sequence[ClaimRef] = ()
    ) -> None:
        info = {
            "hostname": worker.hostname,
            "pid": worker.pid,
            "queues": worker.queues,
            "concurrency": worker.concurrency,
            "backend": worker.backend,
            "started_at": worker.started_at.isoformat(),
            "last_heartbeat_at": now.isoformat(),
            "abandoned_threads": worker.abandoned_threads,
        }

        def build(pipe: Any) -> None:
            pipe.hset(self.keys.workers, worker.id, dumps(info))
            pipe.zadd(self.keys.heartbeats, {worker.id: micros(now)})
            per_queue: dict[str, list[str]] = defaultdict(list)
            for claim in held:
                per_queue[claim.queue_name].append(claim.job_id)
            for queue, ids in per_queue.items():
                args = [self.keys.base(queue), worker.id, micros(lease_expires_at), *ids]
                self.redis.run(self.redis.scripts.heartbeat, [queue], args, client=pipe)

        self.redis.pipelined(build)

    @translated
    def expired(self, now: datetime, limit: int, dead_workers: Sequence[str] = ()) -> list[HeldJob]:
        found = []
        for group in self.redis.groups(sorted(self.redis.queue_names())):
            args: list[Any] = [micros(now), limit, len(dead_workers), *dead_workers]
            for queue in group:
                args += [self.keys.base(queue), queue]
            for queue, job_id, owner, status, attempts, max_attempts, task_path, links in self.redis.run(
                self.redis.scripts.expired, group, args
            ):
                found.append(
                    HeldJob(
                        job_id=job_id,
                        queue_name=queue,
                        task_path=task_path,
                        owner=owner or None,
                        status=JobStatus(status),
                        attempts=_count(attempts, 0),
                        max_attempts=_count(max_attempts, 1),
                        links=links_or_none(links),
                    )
                )
        return found[:limit]

    @translated
    def silent_workers(self, heartbeat_before: datetime) -> list[WorkerInfo]:
        ids = self.redis.client.zrangebyscore(self.keys.heartbeats, "-inf", f"({micros(heartbeat_before)}")
        if not ids:
            return []
        found = []
        for worker_id, info in zip(ids, self.redis.client.hmget(self.keys.workers, ids), strict=True):
            try:
                data = json.loads(info) if info else {}
                found.append(
                    WorkerInfo(
                        id=worker_id,
                        hostname=str(data.get("hostname", "")),
                        pid=int(data.get("pid", 0)),
                        queues=[],
                        concurrency=0,
                        backend="",
                        started_at=datetime.fromisoformat(data["started_at"]),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue  # a record edited into nonsense: its lease will tell
        return found

    @translated
    def connected_workers(self, workers: Sequence[WorkerInfo]) -> set[str] | None:
        names = self.redis.connected_names()
        return {w.id for w in workers if process_name(w.hostname, w.pid) in names}

    @translated
    def forget_workers(self, heartbeat_before: datetime) -> None:
        for worker_id in self.redis.client.zrangebyscore(
            self.keys.heartbeats, "-inf", f"({micros(heartbeat_before)}"
        ):
            self.unregister(worker_id)

    @translated
    def unregister(self, worker_id: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.hdel(self.keys.workers, worker_id)
            pipe.zrem(self.keys.heartbeats, worker_id)
            for queue in self.redis.queue_names():
                pipe.delete(self.keys.of_queue(queue, f"w:{worker_id}"))
            pipe.execute()

    @translated
    def set_progress(self, claim: ClaimRef, progress: str) -> None:
        args = [self.keys.base(claim.queue_name), claim.job_id, claim.attempt, progress]
        self.redis.run(self.redis.scripts.set_progress, [claim.queue_name], args)

    @translated
    def is_cancel_requested(self, claim: ClaimRef) -> bool:
        return (
            self.redis.client.hget(self.keys.job(claim.queue_name, claim.job_id), "cancel_requested") == "1"
        )

    @translated
    def listen(self, wake: Callable[[str], None], stop: threading.Event) -> None:
        pubsub = self.redis.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.keys.channel)
            while not stop.is_set():
                message = pubsub.get_message(timeout=LISTEN_TIMEOUT_SECONDS)
                if message is not None:
                    wake(message["data"])
        finally:
            pubsub.close()

    @translated
    def prune(self, successful_before: datetime, failed_before: datetime, batch_size: int) -> Pruned:
        jobs = schedule_runs = 0
        for queue in sorted(self.redis.queue_names()):
            base = self.keys.base(queue)
            for status, before in (
                ("successful", successful_before),
                ("failed", failed_before),
                ("cancelled", failed_before),
            ):
                jobs += self._in_batches(
                    self.redis.scripts.prune, queue, [base, status, micros(before)], batch_size
                )
            slots_before = micros(min(successful_before, failed_before))
            schedule_runs += self._in_batches(
                self.redis.scripts.prune_slots, queue, [base, slots_before], batch_size
            )
        return Pruned(jobs=jobs, schedule_runs=schedule_runs)

    def _in_batches(self, script: Any, queue: str, args: list[Any], batch_size: int) -> int:
        """Run a bounded delete script, one short atomic call each, until a batch comes back short."""
        deleted = 0
        while True:
            count = int(self.redis.run(script, [queue], [*args, batch_size]))
            deleted += count
            if count < batch_size:
                return deleted

    def reset_connection(self) -> None:
        self.redis.reset()


def _script_limits(limit: QueueLimit) -> list[int]:
    """A queue's limits as the claim script reads them: concurrency, rate spacing in us (0: none)."""
    return [limit.concurrency or 0, 0 if limit.rate is None else round(limit.rate.spacing_seconds * 1e6)]


def _count(text: str, default: int) -> int:
    """A count as the job reader takes it ("0" stays 0); ``default`` where it holds no whole number."""
    number = whole_number(text)
    return default if number is None else number


def _link_error(t: Transition) -> str:
    """The error (JSON) a linked job's final outcome writes on the jobs it stops; '' for any other."""
    if t.links is None or t.finished_at is None:
        return ""
    return dumps(settling_error(t.job_id, t.status, t.error, t.finished_at).to_json())
