"""backroom: background tasks for Django, behind Django's own Tasks framework."""

from .batch import enqueue_many
from .retry import RetryPolicy
from .scheduler import schedule
from .status.tokens import status_token
from .task import Task

__all__ = ["RetryPolicy", "Task", "enqueue_many", "schedule", "status_token"]
