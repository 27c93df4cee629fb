import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import hypothesis
import pytest
from django.core.management import call_command
from django.db import connections
from django.db.utils import load_backend

from .cluster import PrivateCluster, find_bin_dir

PRIVATE_ALIAS = "pg_private"

# CI explores the same examples every run (a new failing example shows up locally first).
hypothesis.settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")


@contextmanager
def extra_store(settings: Any, alias: str, database: dict[str, Any]) -> Iterator[str]:
    """Add a database and a backroom backend on it under ``alias``, in this thread, for this test.

    The connection is set on the handler directly rather than in DATABASES, so
    that Django's test case neither flushes it nor refuses it as undeclared.
    """
    configured = connections.configure_settings({"default": settings.DATABASES["default"], alias: database})
    connections[alias] = load_backend(database["ENGINE"]).DatabaseWrapper(configured[alias], alias)
    settings.TASKS = {
        **settings.TASKS,
        alias: {
            "BACKEND": "backroom.backends.DatabaseBackend",
            "OPTIONS": {**settings.TASKS["default"]["OPTIONS"], "DATABASE": alias},
        },
    }
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]


@pytest.fixture
def private_pg(settings, monkeypatch) -> Iterator[PrivateCluster]:
    """A private PostgreSQL server, migrated, reachable as TASKS["pg_private"] here and in workers."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing")
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing")
    cluster = PrivateCluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        database = private_database(cluster.port)
        # Worker subprocesses read the same alias from tests/settings.py.
        monkeypatch.setenv("BACKROOM_TEST_PRIVATE_PG_PORT", str(cluster.port))
        with extra_store(settings, PRIVATE_ALIAS, database):
            call_command("migrate", "backroom", database=PRIVATE_ALIAS, verbosity=0)
            yield cluster
    finally:
        cluster.remove()


def private_database(port: int) -> dict[str, Any]:
    from tests.settings import private_postgres

    return private_postgres(port)
