"""A workflow job's links: what it waits for, and what its outcome releases or cancels.

Chains and groups (``backroom.workflows``) store every job of a workflow at
once, each with its ``Links``; they never change afterwards. A job with
parents is stored waiting (``waiting_for`` > 0: no worker can claim it).
When a linked job finishes, the store applies its links in the same atomic
write as the outcome: on success each child counts one parent less and,
at none left, takes its first argument and becomes claimable; on a failure
(or a cancellation) the ``on_failure`` job is released with the failed
job's id, and the children, their children and so on end CANCELLED unrun.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..exceptions import StepFailed, WorkflowSucceeded
from .records import ErrorRecord, JobStatus, error_path

_STEP_FAILED = error_path(StepFailed)
_WORKFLOW_SUCCEEDED = error_path(WorkflowSucceeded)


class Takes(StrEnum):
    """What a released job receives as its first argument."""

    RESULT = "result"  # its one parent's return value (the next step of a chain)
    RESULTS = "results"  # the list of its parents' return values, in order (a group's callback)
    FAILED_ID = "failed_id"  # the id of the job that failed (an on_failure call)


@dataclass(frozen=True, slots=True, kw_only=True)
class Links:
    """One job's place in a workflow; ``queues`` names the queue of every job it mentions."""

    parents: tuple[str, ...] = ()
    takes: Takes | None = None  # None: the job waits for nothing
    children: tuple[str, ...] = ()  # one parent less when this job succeeds; cancelled when it fails
    on_failure: str | None = None  # released with this job's id when it fails or is cancelled
    last: bool = False  # its success completes the workflow: ``on_failure`` is then not needed
    queues: Mapping[str, str] = field(default_factory=dict)

    @property
    def waiting_for(self) -> int:
        """How many parents' outcomes the job waits for when stored (an on_failure call waits for one)."""
        if self.takes is Takes.FAILED_ID:
            return 1
        return len(self.parents)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "parents": list(self.parents),
            "children": list(self.children),
            "queues": dict(self.queues),
        }
        if self.takes is not None:
            data["takes"] = self.takes.value
        if self.on_failure is not None:
            data["on_failure"] = self.on_failure
        if self.last:
            data["last"] = True
        return data

    @classmethod
    def from_json(cls, data: Any) -> "Links":
        """Read stored links; ValueError (or TypeError) when they are not links backroom wrote."""
        if not isinstance(data, dict):
            raise ValueError("links are not an object")
        ids = {name: _ids(data.get(name, [])) for name in ("parents", "children")}
        queues = data.get("queues", {})
        on_failure = data.get("on_failure")
        if not isinstance(queues, dict) or not all(isinstance(q, str) for q in queues.values()):
            raise ValueError("links.queues is not an object of queue names")
        if on_failure is not None and not _is_id(on_failure):
            raise ValueError("links.on_failure is not a job id")
        takes = data.get("takes")
        return cls(
            **ids,
            takes=None if takes is None else Takes(takes),
            on_failure=on_failure,
            last=data.get("last") is True,
            queues=queues,
        )


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(_is_id(item) for item in value):
        raise ValueError("links hold a list that is not of job ids")
    return tuple(value)


def _is_id(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def step_failed_error(
    step_id: str, status: JobStatus, cause: ErrorRecord | None, at: datetime
) -> ErrorRecord:
    """The error of a job that will never run because ``step_id`` failed (or was cancelled) before it."""
    how = "was cancelled" if status == JobStatus.CANCELLED else "failed"
    because = "" if cause is None else f" ({cause.exception_name})"
    return ErrorRecord(
        exception_class_path=_STEP_FAILED,
        traceback=f"{_STEP_FAILED}: step {step_id} {how}{because}, so this job never runs.\n",
        at=at,
    )


def workflow_succeeded_error(at: datetime) -> ErrorRecord:
    """The error of an on_failure job that will never run: every step of its workflow succeeded."""
    return ErrorRecord(
        exception_class_path=_WORKFLOW_SUCCEEDED,
        traceback=f"{_WORKFLOW_SUCCEEDED}: every step succeeded, so this on_failure job never runs.\n",
        at=at,
    )


def settling_error(job_id: str, status: JobStatus, cause: ErrorRecord | None, at: datetime) -> ErrorRecord:
    """The error a linked job's final outcome writes on the jobs it stops: its successors, or on_failure."""
    if status == JobStatus.SUCCESSFUL:
        return workflow_succeeded_error(at)
    return step_failed_error(job_id, status, cause, at)
