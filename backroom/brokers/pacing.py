"""Deleting in batches that leave the store to the workers: each batch, then a rest as long as it took.

Pruning runs beside workers on the same store. Back to back, its batches
keep a database busy (a core, the WAL, the disk) for as long as it lasts;
resting after each batch for as long as it took holds it to half of that,
and the workers' own statements find the store free in between. Pruning
takes about twice as long in return.
"""

import time
from collections.abc import Callable

#: Seconds of rest per second of deleting.
REST_PER_SECOND = 1.0


def delete_in_batches(delete_batch: Callable[[], int], batch_size: int) -> int:
    """Call ``delete_batch`` (it returns the rows it deleted) until a batch comes back short; the total."""
    deleted = 0
    while True:
        started = time.monotonic()
        count = delete_batch()
        deleted += count
        if count < batch_size:
            return deleted
        time.sleep((time.monotonic() - started) * REST_PER_SECOND)
