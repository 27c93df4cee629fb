import pytest

from backroom.compat import task_backends


@pytest.fixture
def broker(redis_store):
    """The test run's RedisBroker; every key it writes is deleted after the test."""
    return task_backends[redis_store].store.broker
