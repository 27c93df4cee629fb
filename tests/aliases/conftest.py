# What a project's conftest.py gets from pytest_plugins = ["backroom.pytest_plugin"] (only the
# root conftest may name plugins, so this one imports the fixture).
from backroom.pytest_plugin import backroom_worker  # noqa: F401
