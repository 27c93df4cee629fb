"""backroom: background tasks for Django, behind Django's own Tasks framework.

Importing backroom is safe in a settings module (for ``RetryPolicy``): the
names that need Django's apps load when first used.
"""

import importlib
from typing import Any

from .retry import Retry, RetryPolicy
from .task import Task, task

_LAZY = {
    "enqueue_many": ".api",
    "aenqueue_many": ".api",
    "cancel": ".api",
    "acancel": ".api",
    "Cancelled": ".brokers.contract",
    "call": ".workflows",
    "chain": ".workflows",
    "group": ".workflows",
    "schedule": ".scheduler",
    "status_token": ".status.tokens",
}

__all__ = ["Retry", "RetryPolicy", "Task", "task", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name], __name__), name)
