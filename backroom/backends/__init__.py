"""backroom's backends for Django's Tasks framework, named in ``TASKS[...]["BACKEND"]``.

They are imported when first named, not with the package: ``import backroom``
stays safe in a settings module, before Django's apps are loaded.
"""

import importlib
from typing import Any

_BACKENDS = {"DatabaseBackend": ".database", "RedisBackend": ".redis", "RabbitMQBackend": ".rabbitmq"}

__all__ = list(_BACKENDS)


def __getattr__(name: str) -> Any:
    if name not in _BACKENDS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_BACKENDS[name], __name__), name)
