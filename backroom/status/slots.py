"""Count the event streams open in this process, in all and per result; refuse one past the caps.

The count is per server process: with several processes (gunicorn workers,
uvicorn workers), each has its own caps.
"""

import threading
from collections import Counter


class NoSlot(Exception):
    """A stream cannot open now: a cap is reached. The message says which, for the 503's body."""


class Slot:
    """One open stream's place; ``release`` frees it, once, however often it is called."""

    def __init__(self, slots: "StreamSlots", key: str) -> None:
        self._slots = slots
        self._key = key
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if not self._held:
                return
            self._held = False
        self._slots._give_back(self._key)


class StreamSlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._per_key: Counter[str] = Counter()

    @property
    def open(self) -> int:
        return self._open

    def take(self, key: str, *, most: int, most_per_key: int) -> Slot:
        """Hold a place for one more stream of ``key``; NoSlot when either cap is reached."""
        with self._lock:
            if self._open >= most:
                raise NoSlot(f"{self._open} status streams are open, the most this server allows.")
            if self._per_key[key] >= most_per_key:
                raise NoSlot(f"{self._per_key[key]} status streams of this task are open already.")
            self._open += 1
            self._per_key[key] += 1
        return Slot(self, key)

    def _give_back(self, key: str) -> None:
        with self._lock:
            self._open -= 1
            self._per_key[key] -= 1
            if not self._per_key[key]:
                del self._per_key[key]
