"""The context a task declared with ``takes_context=True`` receives, and the stop requests it reads."""

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from ..brokers.contract import Broker, ClaimRef
from ..compat import TaskContext
from ..jobs.json import dumps


class CancelRequests:
    """Jobs this worker knows should stop without asking the store: their claim was taken back."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def add(self, job_id: str) -> None:
        with self._lock:
            self._ids.add(job_id)

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._ids.discard(job_id)

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            return job_id in self._ids


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext(TaskContext):  # type: ignore[misc]  # Django's is frozen; its stubs say otherwise
    """Django's TaskContext plus progress reporting and a cancellation check."""

    claim: ClaimRef
    broker: Broker
    cancels: CancelRequests
    _asked: list[bool] = field(default_factory=list)  # whether a check found a stop request

    @property
    def job_id(self) -> str:
        return self.claim.job_id

    @property
    def stopped_on_request(self) -> bool:
        """Whether the task saw a stop request: if it then returns, the job ends CANCELLED."""
        return bool(self._asked)

    def set_progress(self, current: float, total: float | None = None, message: str = "") -> None:
        """Store the job's progress, for the status endpoint and the dashboard to show."""
        for name, number in (("current", current), ("total", total)):
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number)
            ):
                raise ValueError(f"set_progress: {name} must be a finite number, not {number!r}.")
        if not isinstance(message, str):
            raise ValueError(f"set_progress: message must be text, not {type(message).__name__}.")
        progress: dict[str, Any] = {"current": current, "total": total, "message": message}
        self.broker.set_progress(self.claim, dumps(progress))

    async def aset_progress(self, current: float, total: float | None = None, message: str = "") -> None:
        await sync_to_async(self.set_progress)(current, total, message)

    def is_cancel_requested(self) -> bool:
        """Tell whether someone asked this job to stop; a task checks it between steps.

        Raise ``backroom.exceptions.JobCancelled`` (or return) when it says
        yes: the job ends CANCELLED and is not retried.
        """
        asked = self.claim.job_id in self.cancels or self.broker.is_cancel_requested(self.claim)
        if asked and not self._asked:
            self._asked.append(True)
        return asked

    async def ais_cancel_requested(self) -> bool:
        return await sync_to_async(self.is_cancel_requested)()
