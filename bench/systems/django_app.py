"""Systems behind django.tasks (backroom, django-tasks-db): the bench project set up in this process."""

from typing import Any, ClassVar

from .base import System, create_database, drop_database

#: The stores whose database the session creates on a server (SQLite's is a file in its scratch).
SERVER_DATABASES = ("postgres", "mariadb")


class DjangoSystem(System):
    """Enqueues through ``task.enqueue()`` of bench/project/benchsite/tasks.py, as a Django site would."""

    #: BENCH_TASKS_BACKEND of the bench project's settings.
    tasks_backend: ClassVar[str]

    def env(self) -> dict[str, str]:
        env = {**super().env(), "BENCH_TASKS_BACKEND": self.tasks_backend}
        if self.store == "postgres":
            env["BENCH_PG_NAME"] = self.scratch.name
        if self.store == "mariadb":
            env["BENCH_MARIADB_NAME"] = self.scratch.name
        return env

    def setup(self) -> None:
        super().setup()
        if self.store in SERVER_DATABASES:
            create_database(self.store, self.scratch.name)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)

    def teardown(self) -> None:
        from django.db import connections

        connections.close_all()
        if self.store in SERVER_DATABASES:
            drop_database(self.store, self.scratch.name)

    @property
    def tasks(self) -> Any:
        from benchsite import tasks

        return tasks

    def enqueue_noop(self) -> None:
        self.tasks.noop.enqueue()

    def enqueue_stamp(self, key: str) -> None:
        self.tasks.stamp.enqueue(key)
