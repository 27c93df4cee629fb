"""backroom's pytest fixture; enable it with ``pytest_plugins = ["backroom.pytest_plugin"]`` in conftest.py.

Opt-in, as Celery's is: a project that installs backroom gets no fixture it
did not ask for.
"""

from collections.abc import Callable

import pytest

from .testing import drain_now


@pytest.fixture
def backroom_worker(transactional_db: None) -> Callable[..., None]:
    """``drain_now``: call it to run a worker until no job is ready; the test gets committed transactions."""
    return drain_now
