"""How long finished jobs are kept, read from ``settings.BACKROOM["RETENTION"]``, and pruning them."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..brokers.contract import Broker, Pruned
from ..conf import backroom_setting

SETTING = "RETENTION"


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """How many days finished jobs are kept, and how many rows one delete takes."""

    successful_days: float = 7
    failed_days: float = 30  # failed and cancelled jobs
    batch_size: int = 1000


# RETENTION key -> (field, whether it must be a whole number)
_KEYS = {
    "SUCCESSFUL_DAYS": ("successful_days", False),
    "FAILED_DAYS": ("failed_days", False),
    "BATCH_SIZE": ("batch_size", True),
}


def read_retention() -> tuple[Retention, list[str]]:
    """Build the retention from settings; return it with one message per bad key (which keeps its default)."""
    given: Any = backroom_setting(SETTING, {})
    where = f'BACKROOM["{SETTING}"]'
    if not isinstance(given, dict):
        return Retention(), [f"{where} must be a dict, not {type(given).__name__}."]
    values: dict[str, Any] = {}
    errors = []
    for key, value in given.items():
        if key not in _KEYS:
            errors.append(f"{where}[{key!r}] is not a retention setting (known: {', '.join(_KEYS)}).")
            continue
        name, whole = _KEYS[key]
        number_types = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_types) or value <= 0:
            kind = "a whole number" if whole else "a number"
            errors.append(f"{where}[{key!r}] must be {kind} above 0, not {value!r}.")
            continue
        values[name] = value
    return Retention(**values), errors


def prune(broker: Broker, retention: Retention, now: datetime) -> Pruned:
    """Delete the finished jobs and slot records that ``retention`` no longer keeps at ``now``."""
    return broker.prune(
        successful_before=now - timedelta(days=retention.successful_days),
        failed_before=now - timedelta(days=retention.failed_days),
        batch_size=retention.batch_size,
    )
