"""Record Django's task signals as JSON lines, in whichever process sends them.

The file is named by the BACKROOM_CONFORMANCE_SIGNALS environment variable,
which worker subprocesses inherit from the test process; without it nothing
is recorded. The worker connects these receivers from the conformance app's
``ready()``; the test process connects them while it enqueues.
"""

import json
import os
from typing import Any

from backroom.compat import TaskResultStatus, task_enqueued, task_finished, task_started

SIGNALS_FILE = "BACKROOM_CONFORMANCE_SIGNALS"
SIGNALS = {"task_enqueued": task_enqueued, "task_started": task_started, "task_finished": task_finished}


def _timestamp(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def describe(name: str, sender: Any, task_result: Any) -> dict[str, Any]:
    """What a receiver of signal ``name`` sees, as JSON."""
    return {
        "signal": name,
        "pid": os.getpid(),
        "sender": sender.__name__,
        "id": task_result.id,
        "backend": task_result.backend,
        "task": task_result.task.module_path,
        "status": str(task_result.status),
        "attempts": task_result.attempts,
        "worker_ids": list(task_result.worker_ids),
        "enqueued_at": _timestamp(task_result.enqueued_at),
        "started_at": _timestamp(task_result.started_at),
        "last_attempted_at": _timestamp(task_result.last_attempted_at),
        "finished_at": _timestamp(task_result.finished_at),
        "errors": [error.exception_class_path for error in task_result.errors],
        "return_value": (
            task_result.return_value if task_result.status == TaskResultStatus.SUCCESSFUL else None
        ),
    }


def _receiver(name: str):
    def receive(sender: Any, task_result: Any, **kwargs: Any) -> None:
        path = os.environ.get(SIGNALS_FILE)
        if path:
            with open(path, "a", encoding="utf-8") as out:  # one write per line: appends stay whole
                out.write(json.dumps(describe(name, sender, task_result)) + "\n")

    return receive


_RECEIVERS = {name: _receiver(name) for name in SIGNALS}


def connect() -> None:
    for name, signal in SIGNALS.items():
        signal.connect(_RECEIVERS[name], dispatch_uid=f"conformance-{name}")


def disconnect() -> None:
    for name, signal in SIGNALS.items():
        signal.disconnect(dispatch_uid=f"conformance-{name}")


def read(path: str) -> list[dict[str, Any]]:
    """The recorded signals, in the order they were sent."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as recorded:
        return [json.loads(line) for line in recorded if line.strip()]
