"""The bench's Celery app: Redis broker and result backend, every key under BENCH_PREFIX.

The result backend is on, as backroom and the other systems record every
outcome too, and it is how the bench counts finished jobs.
"""

import os

from celery import Celery
from stamp import record_pickup

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
KEY_PREFIX = f"{os.environ.get('BENCH_PREFIX', 'backroom-bench')}-celery:"

app = Celery("bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    broker_transport_options={"global_keyprefix": KEY_PREFIX},
    result_backend_transport_options={"global_keyprefix": KEY_PREFIX},
    broker_connection_retry_on_startup=True,
    task_default_queue="bench",
)


@app.task
def noop() -> None:
    """Do nothing."""


@app.task
def stamp(key: str) -> None:
    """Record when a worker started this task."""
    record_pickup(key)
