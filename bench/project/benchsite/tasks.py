"""The bench's tasks for the django.tasks systems (backroom, django-tasks-db)."""

from django.tasks import task
from stamp import record_pickup


@task
def noop() -> None:
    """Do nothing: the drain and enqueue figures measure the system, not the task."""


@task
def stamp(key: str) -> None:
    """Record when a worker started this task (the pickup measurement)."""
    record_pickup(key)
