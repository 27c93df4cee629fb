"""The event stream's decisions: send on change, keep alive while quiet, stop when finished or too old."""

from functools import partial

from django.utils import timezone

from backroom.status.payload import status_payload
from backroom.status.stream import KEEPALIVE, Gone, StreamLimits, stream
from tests import tasks
from tests.support import stored_job


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _read(store, job_id):
    return status_payload(
        stored_job(store, job_id), now=timezone.now(), expose_return_value=False, no_worker=False
    )


def test_each_change_is_sent_once_then_the_end(store, run_worker):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    read = partial(_read, store, result.id)
    reads = []

    def counted_read():
        reads.append(1)
        return read()

    def sleep(seconds):
        if len(reads) == 3:  # READY three times in a row, then the worker runs the job
            assert run_worker(store) == 0

    chunks = list(stream(counted_read, StreamLimits(poll_seconds=0.5), sleep=sleep))
    statuses = [c for c in chunks if c.startswith("event: status")]
    assert len(statuses) == 2, chunks  # READY once, not three times; then SUCCESSFUL
    assert '"status":"READY"' in statuses[0] and '"status":"SUCCESSFUL"' in statuses[1]
    assert chunks[-1].startswith("event: end") and '"finished"' in chunks[-1]
    assert len(reads) == 4


def test_keepalive_while_quiet_and_close_at_the_time_limit(store):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    clock = Clock()
    limits = StreamLimits(poll_seconds=1, keepalive_seconds=10, max_seconds=35)
    chunks = list(stream(partial(_read, store, result.id), limits, clock=clock, sleep=clock.sleep))
    assert chunks[0].startswith("retry: ")
    assert chunks[1].startswith("event: status")
    assert chunks[2:] == [KEEPALIVE] * 3  # at 10, 20 and 30 s of silence
    assert clock.now == 35  # closed at the limit, without an end event, for EventSource to reconnect


def test_a_job_deleted_during_the_stream_ends_it(store):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    answers = iter([_read(store, result.id), Gone.MISSING])
    chunks = list(stream(lambda: next(answers), StreamLimits(), sleep=lambda _: None))
    assert chunks[-1] == 'event: end\ndata: {"reason":"missing"}\n\n'
