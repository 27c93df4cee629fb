"""``manage.py backroom worker`` of the bench project, noting when each step of a pickup happens.

    python bench/traced_worker.py OUT_JSON [worker options...]

For steady.py's pickup split. Three of the worker's steps are wrapped to note
time.time() in memory, written to OUT_JSON when the worker exits: a wake-up
from the store (``notified``), each claim that returned jobs (``claim``:
begun, returned), and a thread reporting a job's start (``started``: the job
handed over, its code about to run). Only the bench uses this: nothing of it
is in backroom.
"""

import atexit
import json
import sys
import time
from pathlib import Path
from typing import Any

import django


def trace(out: str) -> None:
    from backroom.brokers.database.broker import DatabaseBroker
    from backroom.brokers.redis.broker import RedisBroker
    from backroom.worker.runner import Worker

    notes: list[tuple[Any, ...]] = []
    atexit.register(lambda: Path(out).write_text(json.dumps(notes)))

    def wrapped(cls: Any, name: str, note: Any) -> None:
        original = getattr(cls, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            began = time.time()
            result = original(*args, **kwargs)
            note(began, result)
            return result

        setattr(cls, name, call)

    wrapped(Worker, "_notified", lambda began, _: notes.append(("notified", began)))
    wrapped(Worker, "started", lambda began, _: notes.append(("started", began)))

    def claimed(began: float, jobs: list[Any]) -> None:
        if jobs:  # the claims that found nothing are the idle worker's polls
            notes.append(("claim", began, time.time()))

    for broker in (DatabaseBroker, RedisBroker):
        wrapped(broker, "claim", claimed)


def main(out: str, *options: str) -> None:
    django.setup()
    trace(out)
    from django.core.management import call_command

    call_command("backroom", "worker", *options)


if __name__ == "__main__":
    main(*sys.argv[1:])
