"""The sink's outbox: one JSON object per received message, one message per line."""

import json
from pathlib import Path
from typing import Any


def append(path: Path, message: dict[str, Any]) -> None:
    """Add a message; a single write of one line, so that readers never see half of it."""
    with path.open("a", encoding="utf-8") as outbox:
        outbox.write(json.dumps(message) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    """Return the received messages, oldest first."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]
