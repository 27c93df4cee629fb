"""What Django calls on backroom's backends: validate, enqueue, read results, check settings.

A backend is thin: it builds jobs with ``JobFactory``, stores them through
its store's broker, and turns stored jobs into Django's TaskResults. The
worker, scheduler, dashboard and CLI never see the backend, only its
``Store``.
"""

import importlib.util
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from ..compat import BaseTaskBackend, InvalidTask, TaskResult, TaskResultDoesNotExist, task_enqueued
from ..conf import BackendSettings, Option, read_settings
from ..jobs.building import JobFactory, check_task
from ..jobs.links import Links
from ..jobs.records import JobRecord
from ..jobs.results import ready_results, task_result
from ..store import Store
from ..task import Task, task_for


class BackroomBackend(BaseTaskBackend):
    """A django.tasks backend whose jobs live in a store and are run by backroom workers."""

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

    def make_store(self, settings: BackendSettings) -> Store:
        """Build this backend's store (broker and inspector) from its settings."""
        raise NotImplementedError

    @cached_property
    def store(self) -> Store:
        if self.settings_errors:
            raise ImproperlyConfigured(" ".join(self.settings_errors))
        return self.make_store(self.settings)

    @property
    def jobs(self) -> JobFactory:
        return self.store.jobs

    def validate_task(self, task: Any) -> None:
        check_task(task)  # types first: Django's own checks compare them
        super().validate_task(task)

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

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> TaskResult:
        self._check_task(task)
        job = self.jobs.new_job(task, args, kwargs)
        existing = self.store.broker.enqueue(job)
        if existing is not None:
            return self.result(existing)
        results = ready_results(task, self.alias, [job.id], [(args, kwargs)], job.enqueued_at)
        return self._announced(results)[0]

    def enqueue_many(self, task: Any, calls: Iterable[tuple[Any, Any]]) -> list[TaskResult]:
        """Enqueue one job of ``task`` per (args, kwargs) call, stored together; results in call order.

        On a database store the jobs are stored atomically, inside the
        caller's transaction if there is one.
        """
        self._check_task(task)
        batch, plain_calls = self.jobs.new_jobs(task, calls)
        if not batch.ids:
            return []
        self.store.broker.enqueue_many(batch)
        return self._announced(ready_results(task, self.alias, batch.ids, plain_calls, batch.enqueued_at))

    def enqueue_workflow(
        self, calls: Sequence[tuple[Any, Any, Any]], links_for: Callable[[Sequence[str]], list[Links]]
    ) -> list[TaskResult]:
        """Store a workflow's (task, args, kwargs) calls as jobs in one atomic write; results in call order.

        ``links_for`` links the jobs (see ``backroom.workflows``). Every call
        is checked before anything is stored.
        """
        for task, _, _ in calls:
            self._check_task(task)
        jobs = self.jobs.new_workflow(calls, links_for)
        queues = sorted({job.queue_name for job in jobs})
        if len(queues) > 1 and not self.store.broker.workflows_span_queues:
            raise InvalidTask(
                f"A workflow on {self.store.description} keeps to one queue (a script runs in one cluster "
                f"slot), but its calls use the queues {', '.join(map(repr, queues))}. Give them one queue."
            )
        self.store.broker.enqueue_workflow(jobs)
        return self._announced(
            [
                ready_results(task, self.alias, [job.id], [(args, kwargs)], job.enqueued_at)[0]
                for (task, args, kwargs), job in zip(calls, jobs, strict=True)
            ]
        )

    def _announced(self, results: list[TaskResult]) -> list[TaskResult]:
        """Send Django's ``task_enqueued`` for each result of jobs just stored; return them."""
        for result in results:
            task_enqueued.send(type(self), task_result=result)
        return results

    def get_result(self, result_id: str) -> TaskResult:
        record = self.store.broker.get(result_id) if isinstance(result_id, str) else None
        if record is None:
            raise TaskResultDoesNotExist(result_id)
        return self.result(record)

    def result(self, record: JobRecord) -> TaskResult:
        """The TaskResult of a stored job."""
        return task_result(record, task_for(record, self.alias), self.alias)

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return [
            checks.Error(message, id="backroom.E001", obj=f"TASKS[{self.alias!r}]")
            for message in self.settings_errors
        ]

    def check_package(
        self, module: str, package: str, extra: str, check_id: str
    ) -> list[checks.CheckMessage]:
        """Report a client library this backend needs that is not installed."""
        if importlib.util.find_spec(module) is not None:
            return []
        return [
            checks.Error(
                f"TASKS[{self.alias!r}] uses {type(self).__name__}, but {package} is not installed: "
                f"pip install 'django-backroom[{extra}]'.",
                id=check_id,
            )
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
