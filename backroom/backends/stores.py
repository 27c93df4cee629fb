"""Which TASKS aliases are backroom's backends, and their stores: the one way to ask."""

from django.conf import settings

from ..compat import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from ..store import Store
from .base import BackroomBackend


class NotBackroom(LookupError):
    """A TASKS alias that is missing or not a backroom backend."""


def store_for(alias: str) -> Store:
    """The store behind TASKS[alias]; NotBackroom says why there is none."""
    if alias not in getattr(settings, "TASKS", {}):
        raise NotBackroom(f"TASKS has no backend {alias!r} (it has: {', '.join(settings.TASKS) or 'none'}).")
    backend = task_backends[alias]
    if not isinstance(backend, BackroomBackend):
        raise NotBackroom(f"TASKS[{alias!r}] uses {type(backend).__name__}, not a backroom backend.")
    return backend.store


def is_backroom(alias: str) -> bool:
    """Whether TASKS[alias] is a backroom backend (without building its store)."""
    return alias in getattr(settings, "TASKS", {}) and isinstance(task_backends[alias], BackroomBackend)


def stores() -> dict[str, Store]:
    """Every backroom store, by TASKS alias, in settings order."""
    found = {}
    for alias in getattr(settings, "TASKS", {}):
        try:
            found[alias] = store_for(alias)
        except NotBackroom:
            continue
    return found


def default_alias(aliases: list[str]) -> str | None:
    """The store to show when none is asked for: the default one if it is backroom's."""
    if DEFAULT_TASK_BACKEND_ALIAS in aliases:
        return DEFAULT_TASK_BACKEND_ALIAS
    return aliases[0] if aliases else None
