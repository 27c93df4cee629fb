"""Turn a task and its arguments into jobs ready to store, checking everything a store would refuse.

Backends build the jobs of ``enqueue`` and ``enqueue_many`` here, and the
scheduler those of its slots: one place decides what a job holds, which
options apply, and what is wrong with a call, so a store never sees bad input.
"""

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..compat import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY, InvalidTask
from ..conf import BackendSettings, as_seconds, attempt_count, positive_number, retry_policy
from ..exceptions import InvalidArguments
from ..limits import concurrency_problem, limit_key_problem, parse_rate, rate_problem
from .json import encode_arguments
from .links import Links
from .records import JobBatch, JobLimits, NewJob

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_TASK_PATH = 255
MAX_UNIQUE_KEY = 255
#: The longest limit group a store keeps (a task path and its limit_key).
MAX_LIMIT_GROUP = 255


def _expiry_problem(value: Any) -> str | None:
    """None for an aware datetime or a positive duration; a naive datetime's zone would be a guess."""
    if isinstance(value, datetime) and timezone.is_aware(value):
        return None
    if not isinstance(value, datetime) and positive_number(value) is None:
        return None
    return "must be a positive number of seconds (up to 1,000 years), a timedelta or an aware datetime"


# backroom's Task options and how to check them (plain Django Tasks have none).
_OPTION_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "max_attempts": attempt_count,
    "retry": retry_policy,
    "timeout": positive_number,
    "expires": _expiry_problem,
    "concurrency_limit": concurrency_problem,
    "rate_limit": rate_problem,
    "limit_key": limit_key_problem,
}
_VARIANT = dict(zip("0123456789abcdef", "89ab89ab89ab89ab", strict=True))


def new_job_ids(count: int) -> list[str]:
    """Return ``count`` UUIDv7 ids, made as text (uuid.UUID costs more than the rest of an enqueue).

    Ordered by creation time like the queue (the millisecond, then 12 bits of
    its fraction, RFC 9562's method 3), so that listing newest first walks
    the primary key; random after that.
    """
    now = time.time_ns()
    stamp = f"{now // 1_000_000:012x}"
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    fraction = (now % 1_000_000) * 4096 // 1_000_000
    noise = os.urandom(8 * count).hex()  # 62 random bits per id, 2 more bits become the variant
    ids = []
    for index, start in enumerate(range(0, 16 * count, 16)):
        r = noise[start : start + 16]
        ids.append(f"{head}{min(fraction + index, 4095):03x}-{_VARIANT[r[0]]}{r[1:4]}-{r[4:16]}")
    return ids


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for an error message: shortened, and never failing itself."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - an int past Python's digit limit, a broken __repr__: say its type
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else f"{text[:limit]}..."


def expires_at(expires: float | timedelta | datetime, now: datetime) -> datetime:
    """When a job enqueued at ``now`` expires: ``expires`` itself, or that long after ``now``."""
    return expires if isinstance(expires, datetime) else now + timedelta(seconds=as_seconds(expires))


def check_task(task: Any) -> None:
    """Raise InvalidTask naming what a store could not keep: queue, priority, run_after, options."""
    path = task.module_path
    if len(path) > MAX_TASK_PATH:
        raise InvalidTask(f"The task path {path[:80]!r}... is over {MAX_TASK_PATH} characters.")
    if not isinstance(task.queue_name, str) or not QUEUE_NAME.match(task.queue_name):
        raise InvalidTask(f"Queue name {shown(task.queue_name)} must be 1 to 64 letters, digits or _.:-")
    priority = task.priority
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidTask(  # Django's own message first, as its conformance tests expect it
            f"priority must be a whole number between {TASK_MIN_PRIORITY} and {TASK_MAX_PRIORITY}. "
            f"Got {shown(priority)}."
        )
    if task.run_after is not None and not isinstance(task.run_after, datetime):
        raise InvalidTask(f"run_after must be a datetime (aware, with USE_TZ), not {shown(task.run_after)}.")
    for name, check in _OPTION_CHECKS.items():
        value = getattr(task, name, None)
        if value is not None and (problem := check(value)):
            raise InvalidTask(f"{name} {problem}, not {shown(value)}.")
    if getattr(task, "limit_key", None) is not None and not job_limited(task):
        raise InvalidTask(
            f"limit_key {shown(task.limit_key)} needs a concurrency_limit or a rate_limit on the task "
            "to count against."
        )
    unique_key = getattr(task, "unique_key", None)
    if unique_key is not None and (
        not isinstance(unique_key, str) or not 0 < len(unique_key) <= MAX_UNIQUE_KEY
    ):
        raise InvalidTask(
            f"unique_key must be a string of 1 to {MAX_UNIQUE_KEY} characters, not {shown(unique_key)}."
        )


def job_limited(task: Any) -> bool:
    return (
        getattr(task, "concurrency_limit", None) is not None or getattr(task, "rate_limit", None) is not None
    )


def job_limits(task: Any) -> JobLimits | None:
    """The group a task's jobs are limited in: the task, or the task and its ``limit_key``."""
    if not job_limited(task):
        return None
    key = task.module_path if task.limit_key is None else f"{task.module_path}|{task.limit_key}"
    if len(key) > MAX_LIMIT_GROUP:  # a long path and a long key: the same group, in fewer characters
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    rate = None if task.rate_limit is None else parse_rate(task.rate_limit).stored()
    return JobLimits(key=key, concurrency=task.concurrency_limit, rate=rate)


class JobFactory:
    """Builds the jobs of one backend, with its settings' defaults for what a task leaves open."""

    def __init__(self, settings: BackendSettings, new_ids: Callable[[str, int], list[str]]) -> None:
        self.settings = settings
        self.new_ids = new_ids  # (queue name, count) -> ids: a store may shape its ids

    def _shared_fields(self, task: Any, now: datetime) -> dict[str, Any]:
        """The fields all jobs of ``task`` enqueued at ``now`` share, with the options that apply resolved."""
        config = self.settings
        timeout = getattr(task, "timeout", None)  # a plain Django Task has none of backroom's options
        expires = getattr(task, "expires", None)
        run_after = task.run_after
        return {
            "task_path": task.module_path,
            "queue_name": task.queue_name,
            "priority": task.priority,
            "run_after": run_after,
            "available_at": max(now, run_after) if run_after else now,
            "enqueued_at": now,
            "max_attempts": getattr(task, "max_attempts", None) or config.max_attempts,
            "timeout_seconds": as_seconds(timeout) if timeout is not None else config.timeout_seconds,
            "retry": (getattr(task, "retry", None) or config.retry).to_json(),
            "expires_at": None if expires is None else expires_at(expires, now),
            "limits": job_limits(task),
        }

    def new_job(self, task: Any, args: Any, kwargs: Any) -> NewJob:
        """Build the job of one call; InvalidArguments names an argument a store cannot keep."""
        encoded_args, encoded_kwargs = encode_arguments(
            task.func,
            task.module_path,
            args,
            kwargs,
            takes_context=task.takes_context,
            max_bytes=self.settings.max_arguments_bytes,
        )
        return NewJob(
            id=self.new_ids(task.queue_name, 1)[0],
            args=encoded_args,
            kwargs=encoded_kwargs,
            unique_key=getattr(task, "unique_key", None),
            **self._shared_fields(task, timezone.now()),
        )

    def new_jobs(self, task: Any, calls: Iterable[Any]) -> tuple[JobBatch, list[tuple[Any, Any]]]:
        """Build the jobs of many calls of one task; return them and the calls as (args, kwargs) pairs.

        Nothing is stored before every call is checked: a bad one raises,
        naming its index in ``calls``.
        """
        if getattr(task, "unique_key", None) is not None:
            raise InvalidTask(
                "enqueue_many() does not take a task with a unique_key: every call would share the key, "
                "so only the first would be stored. Enqueue such calls one by one."
            )
        func, task_path, takes_context = task.func, task.module_path, task.takes_context
        max_bytes = self.settings.max_arguments_bytes
        encoded_args, encoded_kwargs, plain_calls = [], [], []
        for index, call in enumerate(calls):
            try:
                args, kwargs = call
            except (TypeError, ValueError):
                raise InvalidTask(
                    f"Call {index}: expected an (args, kwargs) pair, not {shown(call)}."
                ) from None
            if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
                raise InvalidTask(
                    f"Call {index}: expected args as a tuple or list and kwargs as a dict, "
                    f"not {type(args).__name__} and {type(kwargs).__name__}."
                )
            if kwargs and not all(isinstance(name, str) for name in kwargs):
                raise InvalidTask(f"Call {index}: keyword argument names must be strings.")
            try:
                encoded = encode_arguments(
                    func, task_path, args, kwargs, takes_context=takes_context, max_bytes=max_bytes
                )
            except InvalidArguments as exc:
                raise InvalidArguments(f"Call {index}: {exc}") from exc
            encoded_args.append(encoded[0])
            encoded_kwargs.append(encoded[1])
            plain_calls.append((args, kwargs))
        batch = JobBatch(
            ids=self.new_ids(task.queue_name, len(encoded_args)) if encoded_args else [],
            args=encoded_args,
            kwargs=encoded_kwargs,
            **self._shared_fields(task, timezone.now()),
        )
        return batch, plain_calls

    def new_workflow(
        self, calls: Sequence[tuple[Any, Any, Any]], links_for: Callable[[Sequence[str]], list[Links]]
    ) -> list[NewJob]:
        """Build the jobs of a workflow's (task, args, kwargs) calls, each with its links.

        ``links_for`` gets the jobs' ids in call order and returns their links;
        each job's links learn the queue of every job they name.
        """
        jobs = []
        for index, (task, args, kwargs) in enumerate(calls):
            if getattr(task, "unique_key", None) is not None:
                raise InvalidTask(
                    f"Workflow call {index} ({task.module_path}) has a unique_key: a workflow's jobs cannot "
                    "stand in for other jobs, so chains and groups refuse unique keys."
                )
            try:
                jobs.append(self.new_job(task, args, kwargs))
            except InvalidArguments as exc:
                raise InvalidArguments(f"Workflow call {index} ({task.module_path}): {exc}") from exc
        queue_of = {job.id: job.queue_name for job in jobs}
        linked = []
        for job, links in zip(jobs, links_for([job.id for job in jobs]), strict=True):
            named = (*links.parents, *links.children, *([links.on_failure] if links.on_failure else []))
            linked.append(replace(job, links=replace(links, queues={i: queue_of[i] for i in named})))
        return linked
