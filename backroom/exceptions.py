"""Errors backroom raises, and the ones it records on jobs."""

from .compat import InvalidTask


class InvalidArguments(InvalidTask, TypeError):
    """A task's arguments cannot be stored as JSON, or are too large."""


class UnknownTask(ValueError):
    """A stored task path does not name an importable Task."""


class CorruptJob(ValueError):
    """A stored job's row cannot be read as a job: it was edited into nonsense."""


class JobTimeout(BaseException):
    """Raised inside a task that ran past its timeout.

    A BaseException, like asyncio.CancelledError, so that a task's own
    ``except Exception`` cannot swallow it.
    """


class WorkerLost(Exception):
    """Recorded on a job whose worker stopped heartbeating while running it."""


class JobCancelled(Exception):
    """Raise it in a task asked to stop (``context.is_cancel_requested()``): the job ends CANCELLED.

    Also recorded on a job cancelled before it ran.
    """


class JobExpired(Exception):
    """Recorded on a job that no worker started before its ``expires`` time: it ends CANCELLED, never run."""


class StepFailed(Exception):
    """Recorded on a workflow job that never runs because a step before it failed or was cancelled."""


class WorkflowSucceeded(Exception):
    """Recorded on an ``on_failure`` job that never runs because every step of its workflow succeeded."""


class StoreError(Exception):
    """The job store refused a call."""


class StoreUnavailable(StoreError):
    """The store cannot be reached for now: a worker backs off and tries again."""


class StoreNotReady(StoreError):
    """backroom's tables are missing from the store (or out of date): run ``manage.py migrate``."""
