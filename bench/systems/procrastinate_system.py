"""procrastinate on PostgreSQL, through its Django integration, as a Django site would run it.

Jobs are deferred with ``task.defer()`` on Django's own connection (and
``task.batch_defer()`` for many); the worker is ``manage.py procrastinate
worker``, an asyncio loop that runs up to ``--concurrency`` jobs at once (a
sync task in a thread) and wakes on LISTEN/NOTIFY (its default, stated on the
command line all the same). Jobs are kept when finished (its default), as
backroom keeps them: the bench counts them in ``procrastinate_jobs``.
"""

import importlib
from typing import Any

from .base import Worker, manage
from .django_app import DjangoSystem


class Procrastinate(DjangoSystem):
    name = "procrastinate"
    store = "postgres"
    tasks_backend = "procrastinate"
    view_enqueue = "procrastinate"
    workers = (Worker("", 1), Worker("", 4), Worker("", 8), Worker("", 16))

    def setup(self) -> None:
        super().setup()
        self.jobs: Any = importlib.import_module("procrastinate_tasks")

    def _execute(self, sql: str) -> Any:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone() if cursor.description else None

    def reset(self) -> None:
        self._execute("DELETE FROM procrastinate_jobs")

    def enqueue_noop(self) -> None:
        self.jobs.noop.defer()

    def enqueue_many(self, count: int) -> None:
        self.jobs.noop.batch_defer(*({} for _ in range(count)))

    def enqueue_stamp(self, key: str) -> None:
        self.jobs.stamp.defer(key=key)

    def worker_command(self, worker: Worker) -> list[str]:
        return manage(
            "procrastinate", "worker", "--concurrency", str(worker.concurrency), "--listen-notify",
        )  # fmt: skip

    def count_finished(self) -> int:
        return int(self._execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")[0])
