"""The reading and acting half of the Redis store: counts, listings, workers, retry and cancel.

Counts come from each queue's sorted sets (one script per queue); history
from the finished sets, scored by finish time; listings walk each queue's
``all`` set newest first, merged across queues. Every read is bounded: a
listing looks at ``SCAN_LIMIT`` jobs at most, failure counts at the newest
``FAILED_SCAN`` failed jobs of each queue.
"""

import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from ...jobs.json import dumps
from ...jobs.links import settling_error
from ...jobs.records import JobRecord, JobStatus
from .. import inspection
from ..contract import Cancelled, cancellation_error
from .broker import RedisBroker
from .codec import from_micros, job_from_hash, micros
from .connection import RedisStore, translated

#: The most jobs one listing page looks at before it stops with what it found.
SCAN_LIMIT = 20_000
#: Jobs read per round trip while walking a listing or a failed set.
CHUNK = 200
#: How many of each queue's newest failed jobs the failure counts look at.
FAILED_SCAN = 10_000
MINUTE = timedelta(minutes=1)


class RedisInspector:
    """What people read and do to the jobs of a Redis store."""

    def __init__(self, redis_store: RedisStore, broker: RedisBroker) -> None:
        self.redis = redis_store
        self.keys = redis_store.keys
        self.broker = broker  # finds jobs by id, knows the result TTL

    def _queues(self) -> list[str]:
        return sorted(self.redis.queue_names())

    @translated
    def get(self, job_id: str) -> JobRecord | None:
        return self.broker.get(job_id)

    # Reading.

    @translated
    def queue_stats(self, now: datetime) -> list[inspection.QueueStats]:
        queues = self._queues()

        def build(pipe: Any) -> None:
            for queue in queues:
                self.redis.run(
                    self.redis.scripts.stats, [queue], [self.keys.base(queue), micros(now)], client=pipe
                )

        replies = self.redis.pipelined(build)
        found = []
        for queue, (ready, held, due, later, running, failed, oldest) in zip(queues, replies, strict=True):
            if ready or held or due or later or running or failed:
                found.append(
                    inspection.QueueStats(
                        queue_name=queue,
                        ready=ready + due + held - running,
                        scheduled=later,
                        running=running,
                        failed=failed,
                        oldest_ready_at=from_micros(oldest) if oldest else None,
                    )
                )
        return found

    def _per_minute(
        self, queues: list[str], minutes: list[datetime], since: datetime, read: Callable[..., Any]
    ) -> Iterator[Any]:
        """Call ``read(pipe, key, low, high)`` on each queue's successful, then failed set, per minute."""
        with self.redis.pipeline() as pipe:
            for queue in queues:
                for status in ("successful", "failed"):
                    key = self.keys.of_queue(queue, status)
                    for start in minutes:
                        read(pipe, key, micros(max(start, since)), f"({micros(start + MINUTE)}")
            return iter(pipe.execute())

    @translated
    def throughput(self, since: datetime) -> list[inspection.FinishedCount]:
        queues = self._queues()
        minutes = _minutes(since, datetime.now(tz=since.tzinfo))
        counts = self._per_minute(
            queues, minutes, since, lambda pipe, key, low, high: pipe.zcount(key, low, high)
        )
        found = []
        for queue in queues:
            successful = [next(counts) for _ in minutes]
            failed = [next(counts) for _ in minutes]
            found += [
                inspection.FinishedCount(queue_name=queue, minute=start, successful=ok, failed=bad)
                for start, ok, bad in zip(minutes, successful, failed, strict=True)
                if ok or bad
            ]
        return found

    @translated
    def timings(self, since: datetime, bucket: timedelta, sample_per_minute: int) -> list[inspection.Timings]:
        queues = self._queues()
        minutes = _minutes(since, datetime.now(tz=since.tzinfo))
        samples = self._per_minute(
            queues, minutes, since,
            lambda pipe, key, low, high: pipe.zrangebyscore(key, low, high, start=0, num=sample_per_minute),
        )  # fmt: skip
        wanted = [
            (queue, job_id) for queue in queues for _ in range(2 * len(minutes)) for job_id in next(samples)
        ]
        with self.redis.pipeline() as pipe:
            for queue, job_id in wanted:
                pipe.hmget(self.keys.job(queue, job_id), "available_at", "last_attempted_at", "finished_at")
            times = pipe.execute()
        found = inspection.TimingSamples(since, bucket)
        for (queue, _), (available, started, finished) in zip(wanted, times, strict=True):
            try:
                due, began, ended = (from_micros(value) for value in (available, started, finished))
            except (TypeError, ValueError):
                continue
            if due is not None and began is not None and ended is not None:
                found.add(queue, ended, (began - due).total_seconds(), (ended - began).total_seconds())
        return found.timings()

    @translated
    def failed_tasks(self, limit: int) -> list[inspection.TaskFailures]:
        counts: Counter[str] = Counter()
        latest: dict[str, datetime] = {}
        for queue in self._queues():
            ids = self.redis.client.zrevrange(self.keys.of_queue(queue, "failed"), 0, FAILED_SCAN - 1)
            for start in range(0, len(ids), CHUNK):
                with self.redis.pipeline() as pipe:
                    for job_id in ids[start : start + CHUNK]:
                        pipe.hmget(self.keys.job(queue, job_id), "task_path", "finished_at")
                    for task_path, finished_at in pipe.execute():
                        if task_path is None:
                            continue
                        counts[task_path] += 1
                        try:
                            moment = from_micros(finished_at)
                        except ValueError:
                            moment = None
                        if moment is not None and (task_path not in latest or moment > latest[task_path]):
                            latest[task_path] = moment
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [
            inspection.TaskFailures(task_path=path, count=count, last_failed_at=latest.get(path))
            for path, count in ordered
        ]

    @translated
    def jobs(self, where: inspection.JobFilter, offset: int, limit: int) -> inspection.JobPage:
        queues = [where.queue_name] if where.queue_name else self._queues()
        low = "-inf" if where.enqueued_after is None else micros(where.enqueued_after)
        high = "+inf" if where.enqueued_before is None else f"({micros(where.enqueued_before)}"
        found: list[JobRecord] = []
        for job in self._newest_first(queues, low, high):
            if _matches(job, where):
                found.append(job)
                if len(found) > offset + limit:
                    break
        page = found[offset:]
        return inspection.JobPage(jobs=page[:limit], has_next=len(page) > limit)

    def _newest_first(self, queues: list[str], low: str, high: str) -> Iterator[JobRecord]:
        """Jobs of ``queues`` enqueued within [low, high], newest first, SCAN_LIMIT at most."""
        streams = [self._queue_newest_first(queue, low, high) for queue in queues]
        merged = heapq.merge(*streams, key=lambda item: item[0], reverse=True)
        for seen, (_, job) in enumerate(merged):
            if seen >= SCAN_LIMIT:
                return
            yield job

    def _queue_newest_first(self, queue: str, low: str, high: str) -> Iterator[tuple[float, JobRecord]]:
        key = self.keys.of_queue(queue, "all")
        start = 0
        while True:
            entries = self.redis.client.zrevrangebyscore(
                key, high, low, start=start, num=CHUNK, withscores=True
            )
            if not entries:
                return
            with self.redis.pipeline() as pipe:
                for job_id, _ in entries:
                    pipe.hgetall(self.keys.job(queue, job_id))
                hashes = pipe.execute()
            gone = [job_id for (job_id, _), fields in zip(entries, hashes, strict=True) if not fields]
            if gone:  # expired with their result TTL: forget them here too
                self.redis.client.zrem(key, *gone)
            for (_, score), fields in zip(entries, hashes, strict=True):
                if fields:
                    yield score, job_from_hash(fields)
            start += len(entries) - len(gone)
            if len(entries) < CHUNK:
                return

    @translated
    def workers(self) -> list[inspection.WorkerState]:
        running_ids = []
        with self.redis.pipeline() as pipe:
            queues = self._queues()
            for queue in queues:
                pipe.zrange(self.keys.of_queue(queue, "running"), 0, -1)
            for queue, ids in zip(queues, pipe.execute(), strict=True):
                running_ids += [(queue, job_id) for job_id in ids]
        with self.redis.pipeline() as pipe:
            for queue, job_id in running_ids:
                pipe.hgetall(self.keys.job(queue, job_id))
            jobs = [job_from_hash(fields) for fields in pipe.execute() if fields]
        running = inspection.running_jobs(
            sorted(jobs, key=lambda job: job.last_attempted_at or job.enqueued_at)
        )
        states = []
        for worker_id, info in self.redis.client.hgetall(self.keys.workers).items():
            try:
                data = json.loads(info)
                states.append(
                    inspection.WorkerState(
                        id=worker_id,
                        hostname=str(data["hostname"]),
                        pid=int(data["pid"]),
                        queues=[q for q in data["queues"] if isinstance(q, str)],
                        concurrency=int(data["concurrency"]),
                        backend=str(data["backend"]),
                        started_at=datetime.fromisoformat(data["started_at"]),
                        last_heartbeat_at=datetime.fromisoformat(data["last_heartbeat_at"]),
                        running=running.get(worker_id, []),
                        abandoned_threads=int(data.get("abandoned_threads", 0)),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue  # a record edited into nonsense: it is forgotten once stale
        return sorted(states, key=lambda state: (state.hostname, state.pid))

    # Acting.

    @translated
    def retry_job(self, job_id: str, now: datetime) -> bool:
        job = self.broker.get(job_id)
        if job is None:
            return False
        queue = job.queue_name
        args = [self.keys.base(queue), self.keys.channel, queue, job_id, micros(now)]
        return bool(self.redis.run(self.redis.scripts.retry, [queue], args))

    @translated
    def cancel(self, job_id: str, now: datetime, by: str) -> Cancelled:
        job = self.broker.get(job_id)
        if job is None:
            return Cancelled.UNKNOWN
        queue = job.queue_name
        error = cancellation_error(by, now)
        # A workflow job stops its successors (in the same script): with this error.
        stopped = None if job.links is None else settling_error(job_id, JobStatus.CANCELLED, error, now)
        link_error = "" if stopped is None else dumps(stopped.to_json())
        args = [
            self.keys.base(queue), job_id, micros(now), dumps(error.to_json()), self.broker.ttl_ms,
            self.keys.prefix, self.keys.channel, link_error,
        ]  # fmt: skip
        return Cancelled(self.redis.run(self.redis.scripts.cancel, [queue], args))

    @translated
    def pause_queue(self, queue_name: str, now: datetime, by: str) -> bool:
        self.redis.client.sadd(self.keys.queues, queue_name)  # listed, as a queue with jobs is
        args = [self.keys.base(queue_name), micros(now), by]
        return bool(self.redis.run(self.redis.scripts.pause, [queue_name], args))

    @translated
    def resume_queue(self, queue_name: str) -> bool:
        args = [self.keys.base(queue_name), self.keys.channel, queue_name]
        return bool(self.redis.run(self.redis.scripts.resume, [queue_name], args))

    @translated
    def paused_queues(self) -> list[str]:
        queues = self._queues()
        with self.redis.pipeline() as pipe:
            for queue in queues:
                pipe.exists(self.keys.of_queue(queue, "paused"))
            flags = pipe.execute()
        return [queue for queue, paused in zip(queues, flags, strict=True) if paused]

    def _failed_of(self, task_path: str) -> Iterator[tuple[str, list[str]]]:
        """Each queue's failed jobs of a task, in chunks: every one of them, however many."""
        for queue in self._queues():
            key = self.keys.of_queue(queue, "failed")
            ids = self.redis.client.zrange(key, 0, -1)
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                with self.redis.pipeline() as pipe:
                    for job_id in chunk:
                        pipe.hget(self.keys.job(queue, job_id), "task_path")
                    paths = pipe.execute()
                matching = [job_id for job_id, path in zip(chunk, paths, strict=True) if path == task_path]
                if matching:
                    yield queue, matching

    @translated
    def retry_failed(self, task_path: str, now: datetime) -> int:
        retried = 0
        for queue, ids in self._failed_of(task_path):
            for job_id in ids:
                args = [self.keys.base(queue), self.keys.channel, queue, job_id, micros(now)]
                retried += int(self.redis.run(self.redis.scripts.retry, [queue], args))
        return retried

    @translated
    def delete_failed(self, task_path: str) -> int:
        deleted = 0
        for queue, ids in self._failed_of(task_path):
            args = [self.keys.base(queue), task_path, *ids]
            deleted += int(self.redis.run(self.redis.scripts.delete_failed, [queue], args))
        return deleted


def _minutes(since: datetime, now: datetime) -> list[datetime]:
    """Whole minutes from ``since`` up to the one holding ``now``."""
    start = since.replace(second=0, microsecond=0)
    minutes = []
    while start <= now:
        minutes.append(start)
        start += MINUTE
    return minutes


def _matches(job: JobRecord, where: inspection.JobFilter) -> bool:
    if where.status is not None and job.status != where.status:
        return False
    if where.task and where.task.lower() not in job.task_path.lower():
        return False
    return not (where.id_prefix and not job.id.lower().startswith(where.id_prefix.lower()))
