"""What backroom's backends share: validation, job building, results and checks."""

import os
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.utils import timezone

from .. import compat
from ..brokers.base import Broker, JobBatch, JobRecord, NewJob
from ..compat import BaseTaskBackend, InvalidTask, TaskResult, TaskResultDoesNotExist, task_enqueued
from ..conf import (
    BackendSettings,
    Option,
    as_seconds,
    positive_int,
    positive_number,
    read_settings,
    retry_policy,
)
from ..exceptions import InvalidArguments
from ..results import ready_results, task_result
from ..serialization import encode_arguments
from ..task import Task, load_task

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# backroom's Task options and how to check them (plain Django Tasks have none).
_TASK_OPTION_CHECKS = {"max_attempts": positive_int, "retry": retry_policy, "timeout": positive_number}


_VARIANT = dict(zip("0123456789abcdef", "89ab89ab89ab89ab", strict=True))


def new_job_id() -> str:
    """Return a UUIDv7-style id: random, but ordered by creation time like the queue."""
    return new_job_ids(1)[0]


def new_job_ids(count: int) -> list[str]:
    """Return ``count`` UUIDv7-style ids, made as text (uuid.UUID costs more than the rest of an enqueue)."""
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    noise = os.urandom(10 * count).hex()  # 76 random bits per id, 2 more bits become the variant
    ids = []
    for start in range(0, 20 * count, 20):
        r = noise[start : start + 20]
        ids.append(f"{head}{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:19]}")
    return ids


class BackroomBackend(BaseTaskBackend):
    """A django.tasks backend whose jobs live in a broker and are run by backroom workers."""

    task_class = Task
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True
    #: The OPTIONS this kind of store accepts on top of the common ones.
    store_options: ClassVar[Mapping[str, Option]] = {}

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        if "QUEUES" not in params:
            self.queues = set()  # no QUEUES setting: any valid queue name
        self.settings, self.settings_errors = read_settings(alias, self.options, self.store_options)
        self._valid_tasks: set[Any] = set()

    @cached_property
    def broker(self) -> Broker:
        raise NotImplementedError

    def _settings(self) -> BackendSettings:
        if self.settings_errors:
            raise ImproperlyConfigured(" ".join(self.settings_errors))
        return self.settings

    def validate_task(self, task: Any) -> None:
        super().validate_task(task)
        if not QUEUE_NAME.match(task.queue_name):
            raise InvalidTask(f"Queue name {task.queue_name!r} must be 1 to 64 letters, digits or _.:-")
        for name, check in _TASK_OPTION_CHECKS.items():
            value = getattr(task, name, None)
            if value is not None and (problem := check(value)):
                raise InvalidTask(f"{name} {problem}, not {value!r}.")
        unique_key = getattr(task, "unique_key", None)
        if unique_key is not None and (not isinstance(unique_key, str) or not 0 < len(unique_key) <= 255):
            raise InvalidTask("unique_key must be a string of 1 to 255 characters.")

    def _shared_fields(self, task: Any, now: datetime) -> dict[str, Any]:
        """The fields all jobs of ``task`` enqueued at ``now`` share, with the options that apply resolved."""
        config = self._settings()
        # A plain Django Task has none of backroom's options: the defaults apply.
        timeout = getattr(task, "timeout", None)
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
        }

    def _check_task(self, task: Any) -> None:
        """Validate ``task`` once: Tasks are frozen, so an equal one passed before passes again."""
        try:
            if task in self._valid_tasks:
                return
        except TypeError:  # an unhashable option value: check every time
            self.validate_task(task)
            return
        self.validate_task(task)
        if len(self._valid_tasks) >= 256:  # per-call options (a unique_key per call) make new tasks
            self._valid_tasks.clear()
        self._valid_tasks.add(task)

    def new_job(self, task: Any, args: Any, kwargs: Any) -> NewJob:
        """Build the row for one call, with the options that apply to it resolved."""
        encoded_args, encoded_kwargs = encode_arguments(
            task.func,
            task.module_path,
            args,
            kwargs,
            takes_context=task.takes_context,
            max_bytes=self._settings().max_arguments_bytes,
        )
        return NewJob(
            id=new_job_id(),
            args=encoded_args,
            kwargs=encoded_kwargs,
            unique_key=getattr(task, "unique_key", None),
            **self._shared_fields(task, timezone.now()),
        )

    def new_jobs(self, task: Any, calls: Iterable[tuple[Any, Any]]) -> tuple[JobBatch, list[tuple[Any, Any]]]:
        """Build the rows for many calls of one task; return them and the calls as (args, kwargs) lists.

        Nothing is stored before every call is checked: a bad one raises,
        naming its index in ``calls``.
        """
        if getattr(task, "unique_key", None) is not None:
            raise InvalidTask(
                "enqueue_many() does not take a task with a unique_key: every call would share the key, "
                "so only the first would be stored. Enqueue such calls one by one."
            )
        func, task_path, takes_context = task.func, task.module_path, task.takes_context
        max_bytes = self._settings().max_arguments_bytes
        encoded_args, encoded_kwargs, plain_calls = [], [], []
        for index, call in enumerate(calls):
            try:
                args, kwargs = call
            except (TypeError, ValueError):
                raise InvalidTask(f"Call {index}: expected an (args, kwargs) pair, not {call!r}.") from None
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
            ids=new_job_ids(len(encoded_args)),
            args=encoded_args,
            kwargs=encoded_kwargs,
            **self._shared_fields(task, timezone.now()),
        )
        return batch, plain_calls

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> TaskResult:
        self._check_task(task)
        job = self.new_job(task, args, kwargs)
        existing = self.broker.enqueue(job)
        if existing is not None:
            return self._result(existing)
        return self._enqueued(job, task, args, kwargs)

    def enqueue_many(self, task: Any, calls: Iterable[tuple[Any, Any]]) -> list[TaskResult]:
        """Enqueue one job of ``task`` per (args, kwargs) call, stored together; results in call order.

        On a database store the jobs are stored atomically, inside the
        caller's transaction if there is one.
        """
        self._check_task(task)
        batch, plain_calls = self.new_jobs(task, calls)
        if not batch.ids:
            return []
        self.broker.enqueue_many(batch)
        results = ready_results(task, self.alias, batch.ids, plain_calls, batch.enqueued_at)
        for result in results:
            task_enqueued.send(type(self), task_result=result)
        return results

    def enqueue_slot(
        self, task: Any, args: Any, kwargs: Any, schedule_name: str, slot_at: datetime
    ) -> TaskResult | None:
        """Enqueue a schedule's job for one slot; None when a scheduler already did."""
        self.validate_task(task)
        job = self.new_job(task, args, kwargs)
        job_id = self.broker.enqueue_slot(job, schedule_name, slot_at)
        if job_id is None:
            return None
        if job_id != job.id:
            return self.get_result(job_id)  # an active job with the same unique key serves the slot
        return self._enqueued(job, task, args, kwargs)

    def _enqueued(self, job: NewJob, task: Any, args: Any, kwargs: Any) -> TaskResult:
        result = ready_results(task, self.alias, [job.id], [(args, kwargs)], job.enqueued_at)[0]
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        record = self.broker.get(result_id)
        if record is None:
            raise TaskResultDoesNotExist(result_id)
        return self._result(record)

    def _result(self, record: JobRecord) -> TaskResult:
        task = self.task_for(record)
        return task_result(record, task, self.alias)

    def task_for(self, record: JobRecord) -> compat.Task:
        """Return the Task a stored job runs, with the queue, priority and delay it was enqueued with."""
        task = load_task(record.task_path)
        stored = (record.priority, record.queue_name, record.run_after, self.alias)
        if (task.priority, task.queue_name, task.run_after, task.backend) == stored:
            return task
        return task.using(
            priority=record.priority,
            queue_name=record.queue_name,
            run_after=record.run_after,
            backend=self.alias,
        )

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return [
            checks.Error(message, id="backroom.E001", obj=f"TASKS[{self.alias!r}]")
            for message in self.settings_errors
        ]

    def check_database(self) -> list[checks.CheckMessage]:
        """Report an ``OPTIONS["DATABASE"]`` that names no database."""
        if self.settings.database in connections:
            return []
        return [
            checks.Error(
                f"TASKS[{self.alias!r}]['OPTIONS']['DATABASE'] names {self.settings.database!r}, "
                "which is not in DATABASES.",
                id="backroom.E002",
            )
        ]
