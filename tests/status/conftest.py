"""Each status test counts its own streams.

Streams opened by earlier tests in the same process (a browser that went away,
a live server's thread) stay counted until their next write fails; a fresh
counter keeps one test's figures from depending on another's leftovers.
"""

import pytest

from backroom.status import views
from backroom.status.slots import StreamSlots


@pytest.fixture(autouse=True)
def slots(monkeypatch) -> StreamSlots:
    fresh = StreamSlots()
    monkeypatch.setattr(views, "SLOTS", fresh)
    return fresh
