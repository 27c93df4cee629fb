"""The bench's Celery app: Redis broker and result backend, every key under BENCH_PREFIX.

With BENCH_CELERY_BROKER=amqp the broker is RabbitMQ (BENCH_AMQP_URL), on a queue named after
BENCH_PREFIX; the results stay in Redis.

The result backend is on, as backroom and the other systems record every
outcome too, and it is how the bench counts finished jobs.
"""

import os

from celery import Celery
from stamp import record_pickup

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
KEY_PREFIX = f"{os.environ.get('BENCH_PREFIX', 'backroom-bench')}-celery:"

AMQP = os.environ.get("BENCH_CELERY_BROKER") == "amqp"
BROKER_URL = os.environ.get("BENCH_AMQP_URL", "pyamqp://guest:guest@127.0.0.1:5672//") if AMQP else REDIS_URL
QUEUE = f"{os.environ.get('BENCH_PREFIX', 'backroom-bench')}-celery" if AMQP else "bench"

app = Celery("bench", broker=BROKER_URL, backend=REDIS_URL)
app.conf.update(
    broker_transport_options={} if AMQP else {"global_keyprefix": KEY_PREFIX},
    result_backend_transport_options={"global_keyprefix": KEY_PREFIX},
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
)


@app.task
def noop() -> None:
    """Do nothing."""


@app.task
def stamp(key: str) -> None:
    """Record when a worker started this task."""
    record_pickup(key)
