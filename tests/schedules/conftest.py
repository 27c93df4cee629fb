import pytest

from backroom.scheduler import registry


@pytest.fixture(autouse=True)
def code_declarations():
    """Forget the schedule() calls a test made, so that tests do not see each other's."""
    in_code, clashes = dict(registry._in_code), list(registry._clashes)
    yield
    registry._in_code.clear()
    registry._in_code.update(in_code)
    registry._clashes[:] = clashes
