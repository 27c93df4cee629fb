"""Run a worker inside a test: ``with drain(): ...`` works off what the code in the block enqueued.

The worker runs in the test's own process and thread, in burst mode: it runs
every job that is ready, then returns. It reads only committed jobs, and its
tasks run on other database connections, so the test must not hold a
transaction open: Django's ``TransactionTestCase``, or pytest-django's
``django_db(transaction=True)``, not ``TestCase``.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connections

from .backends.stores import store_for
from .compat import DEFAULT_TASK_BACKEND_ALIAS
from .worker.runner import Worker, WorkerOptions


def drain_now(backend: str = DEFAULT_TASK_BACKEND_ALIAS, queues: Sequence[str] | None = None) -> None:
    """Run a worker on ``backend`` (every queue, or ``queues``) until no job is ready; raise if it fails.

    Jobs due later (a ``run_after``, a retry's backoff) stay where they are.
    """
    if any(connection.in_atomic_block for connection in connections.all(initialized_only=True)):
        raise RuntimeError(
            "drain() runs a worker, whose tasks see only committed data, inside a transaction: use "
            "TransactionTestCase (or pytest-django's django_db(transaction=True)) instead of TestCase."
        )
    worker = Worker(store_for(backend), WorkerOptions(queues=tuple(queues or ()), burst=True))
    code = worker.run()
    if code != 0:
        raise RuntimeError(f"The worker on TASKS[{backend!r}] exited with code {code}: see its log.")


@contextmanager
def drain(backend: str = DEFAULT_TASK_BACKEND_ALIAS, queues: Sequence[str] | None = None) -> Iterator[None]:
    """On leaving the block (without an error), run ``drain_now(backend, queues)``."""
    yield
    drain_now(backend, queues)
