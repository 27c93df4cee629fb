"""The bench's procrastinate tasks, registered on the app of procrastinate's Django integration."""

from procrastinate.contrib.django import app
from stamp import record_pickup


@app.task(name="noop")
def noop() -> None:
    """Do nothing."""


@app.task(name="stamp")
def stamp(key: str) -> None:
    """Record when a worker started this task."""
    record_pickup(key)
