"""Each status test counts its own streams and sees workers as they are now.

Streams opened by earlier tests in the same process (a browser that went away,
a live server's thread) stay counted until their next write fails; a fresh
counter keeps one test's figures from depending on another's leftovers. The
endpoint's list of workers is kept for a second; tests read it afresh on
every request instead, so that a worker they register or remove counts at once.
"""

import pytest

from backroom.status import views
from backroom.status.slots import StreamSlots
from backroom.status.workers import WorkerWatch


@pytest.fixture(autouse=True)
def slots(monkeypatch) -> StreamSlots:
    fresh = StreamSlots()
    monkeypatch.setattr(views, "SLOTS", fresh)
    return fresh


@pytest.fixture(autouse=True)
def workers_listed_afresh(monkeypatch) -> None:
    monkeypatch.setattr(views, "WORKERS", WorkerWatch(max_age_seconds=0))
