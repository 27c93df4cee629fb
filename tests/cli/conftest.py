"""An empty database per store, for the processes that show what happens before ``migrate``."""

import os

import pytest
from django.db import connections

from tests.settings import per_run_key

#: Where tests/settings.py finds each SQL store's database name in a subprocess.
DATABASE_NAME_KEYS = {"pg": "BACKROOM_TEST_PG_NAME", "maria": "BACKROOM_TEST_MARIADB_NAME"}


@pytest.fixture
def unmigrated(tmp_path):
    """Return the environment of subprocesses whose database for a store is empty (a Redis store: unchanged).

    SQLite gets a new file; PostgreSQL and MariaDB a new database on the test server, dropped after.
    """
    created: list[tuple[str, str]] = []

    def environment(store: str) -> dict[str, str]:
        if store == "default":
            return {per_run_key("BACKROOM_TEST_DIR"): str(tmp_path)}
        if store not in DATABASE_NAME_KEYS:
            return {}  # Redis: nothing to migrate
        name = f"backroom_unmigrated_{os.getpid()}"
        _drop(store, name)  # left by a run that was killed
        with connections[store].cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        created.append((store, name))
        return {per_run_key(DATABASE_NAME_KEYS[store]): name}

    yield environment
    for store, name in created:
        _drop(store, name)


def _drop(store: str, name: str) -> None:
    force = " WITH (FORCE)" if connections[store].vendor == "postgresql" else ""  # its workers may linger
    with connections[store].cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}{force}")
