"""How event streams read the store: a few reads at a time, and no database connection between reads.

A stream reads its job every ``poll_seconds`` for minutes. Holding a
database connection meanwhile would tie one connection to every watcher, so
each read closes the connections it opened (with Django's connection
pooling, close returns them to the pool) unless a transaction is open. At
most ``READ_CONCURRENCY`` stream reads run at once in a process, so streams
never hold more database connections than that, however many are open.

Under WSGI a stream's reads run in its request thread, which the stream
holds anyway. Under ASGI they run in a small pool of threads of their own,
borrowed for the length of one read: a stream holds no thread while it
waits.
"""

import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from asgiref.sync import sync_to_async
from django.db import connections

#: Stream reads at once in one process, and so the most database connections streams use.
READ_CONCURRENCY = 4

_reads = threading.BoundedSemaphore(READ_CONCURRENCY)


def release_connections() -> None:
    """Close this thread's database connections, except those inside a transaction."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def released[T](read: Callable[[], T]) -> Callable[[], T]:
    """``read`` run within the process's read limit, its connections closed after."""

    def read_then_release() -> T:
        with _reads:
            try:
                return read()
            finally:
                release_connections()

    return read_then_release


@cache
def _read_threads() -> ThreadPoolExecutor:
    """The threads ASGI streams read in, made on first use (threads start as reads need them)."""
    return ThreadPoolExecutor(max_workers=READ_CONCURRENCY, thread_name_prefix="backroom-status-read")


def in_read_thread[T](read: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """``released(read)`` as a coroutine function that borrows a read thread (ASGI)."""
    return sync_to_async(released(read), thread_sensitive=False, executor=_read_threads())
