import pytest

from backroom.compat import BaseTaskBackend

# What a project's conftest.py gets from pytest_plugins = ["backroom.pytest_plugin"] (only the
# root conftest may name plugins, so this one imports the fixture).
from backroom.pytest_plugin import backroom_worker  # noqa: F401


@pytest.fixture
def immediate_backend(settings):
    """TASKS["default"] is Django's ImmediateBackend (from django.tasks, or the backport on Django 5.2)."""
    backends = BaseTaskBackend.__module__.rsplit(".", 1)[0]
    settings.TASKS = {"default": {"BACKEND": f"{backends}.immediate.ImmediateBackend"}}
