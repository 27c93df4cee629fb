"""The context a task declared with ``takes_context=True`` receives."""

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from ..brokers.base import Broker, ClaimRef
from ..compat import TaskContext


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext(TaskContext):  # type: ignore[misc]  # Django's is frozen; its stubs say otherwise
    """Django's TaskContext plus progress reporting and a cancellation check."""

    claim: ClaimRef
    broker: Broker

    @property
    def job_id(self) -> str:
        return self.claim.job_id

    def set_progress(self, current: float, total: float | None = None, message: str = "") -> None:
        """Store the job's progress, for the status endpoint and the dashboard to show."""
        progress: dict[str, Any] = {"current": current, "total": total, "message": message}
        self.broker.set_progress(self.claim, progress)

    async def aset_progress(self, current: float, total: float | None = None, message: str = "") -> None:
        await sync_to_async(self.set_progress)(current, total, message)

    def is_cancel_requested(self) -> bool:
        """Tell whether someone asked for this job to stop; a task checks it between steps."""
        return self.broker.is_cancel_requested(self.claim.job_id)

    async def ais_cancel_requested(self) -> bool:
        return await sync_to_async(self.is_cancel_requested)()
