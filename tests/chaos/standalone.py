"""Run a chaos or soak driver outside pytest: fresh test databases, dropped afterwards."""

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def test_databases(store: str) -> Iterator[None]:
    """Set Django up with the test settings and create the databases ``store`` needs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    if store not in settings.TASKS:
        reason = getattr(settings, "POSTGRES_UNAVAILABLE", None) or "not in TASKS"
        sys.exit(f"store {store!r} is not configured: {reason}")
    # Every configured database, not only the store's: the workers' system checks connect to each.
    old_config = setup_databases(verbosity=0, interactive=False, aliases=set(settings.DATABASES))
    try:
        yield
    finally:
        from django.db import connections

        from tests.support import delete_rabbitmq_queues, delete_redis_keys

        if settings.TASKS[store]["BACKEND"].endswith("RedisBackend"):  # no database teardown removes them
            delete_redis_keys(store)
        if settings.TASKS[store]["BACKEND"].endswith("RabbitMQBackend"):  # nor these queues
            delete_rabbitmq_queues(store)
        connections.close_all()
        teardown_databases(old_config, verbosity=0)


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default="pg", help="TASKS alias of the store (default: pg)")
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker (default: 4)")
