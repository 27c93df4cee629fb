"""What backroom's backends share: validation, job building, results and checks."""

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.utils import timezone

from .. import compat
from ..brokers.base import Broker, JobRecord, NewJob
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
from ..results import task_result
from ..serialization import encode_arguments
from ..task import Task, load_task

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# backroom's Task options and how to check them (plain Django Tasks have none).
_TASK_OPTION_CHECKS = {"max_attempts": positive_int, "retry": retry_policy, "timeout": positive_number}


def new_job_id() -> str:
    """Return a UUIDv7-style id: random, but ordered by creation time like the queue."""
    if hasattr(uuid, "uuid7"):  # Python 3.14+
        return str(uuid.uuid7())
    millis = timezone.now().timestamp() * 1000
    value = (int(millis) << 80) | (uuid.uuid4().int & ((1 << 80) - 1))
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


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

    def new_job(self, task: Any, args: Any, kwargs: Any) -> NewJob:
        """Build the row for one call, with the options that apply to it resolved."""
        config = self._settings()
        encoded_args, encoded_kwargs = encode_arguments(
            task.func,
            task.module_path,
            args,
            kwargs,
            takes_context=task.takes_context,
            max_bytes=config.max_arguments_bytes,
        )
        # A plain Django Task has none of backroom's options: the defaults apply.
        max_attempts = getattr(task, "max_attempts", None) or config.max_attempts
        retry = getattr(task, "retry", None) or config.retry
        timeout = getattr(task, "timeout", None)
        now = timezone.now()
        return NewJob(
            id=new_job_id(),
            task_path=task.module_path,
            queue_name=task.queue_name,
            priority=task.priority,
            args=encoded_args,
            kwargs=encoded_kwargs,
            run_after=task.run_after,
            available_at=max(now, task.run_after) if task.run_after else now,
            enqueued_at=now,
            max_attempts=max_attempts,
            timeout_seconds=as_seconds(timeout) if timeout is not None else config.timeout_seconds,
            retry=retry.to_json(),
            unique_key=getattr(task, "unique_key", None),
        )

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        job = self.new_job(task, args, kwargs)
        existing = self.broker.enqueue(job)
        if existing is not None:
            return self._result(existing)
        return self._enqueued(job, task, args, kwargs)

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
        result = task_result(_ready_record(job, args, kwargs), task, self.alias)
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


def _ready_record(job: NewJob, args: Any, kwargs: Any) -> JobRecord:
    """The record of a job just stored, without a round trip to read it back."""
    return JobRecord(
        id=job.id,
        task_path=job.task_path,
        queue_name=job.queue_name,
        priority=job.priority,
        status="READY",
        args=list(args),
        kwargs=dict(kwargs),
        run_after=job.run_after,
        available_at=job.available_at,
        enqueued_at=job.enqueued_at,
        started_at=None,
        last_attempted_at=None,
        finished_at=None,
        attempts=0,
        max_attempts=job.max_attempts,
        timeout_seconds=job.timeout_seconds,
        retry=job.retry,
        unique_key=job.unique_key,
        worker_id=None,
        worker_ids=[],
        errors=[],
        return_value=None,
        progress=None,
    )
