"""What job threads report, waiting to be written: starts and outcomes, merged per job.

Threads report a job's start when its code begins and its outcome when it
ends. The loop writes what has gathered in one batch: a job that started
and finished within one batch is written once, both at a time. Events are
taken in the order threads reported them and written together, so the
store never shows a job RUNNING before the outcome of the job its thread
ran before it: a worker never shows more RUNNING jobs than it has threads.
"""

import queue
import threading
from dataclasses import dataclass, replace
from datetime import datetime

from ..brokers.contract import Transition
from ..jobs.records import JobRecord, JobStatus


@dataclass(slots=True)
class Confirmation:
    """A thread waiting until the store records its job's start (a job that runs alone)."""

    done: threading.Event
    recorded: bool = False


@dataclass(frozen=True, slots=True)
class _Start:
    job: JobRecord
    at: datetime
    confirmation: Confirmation | None


class Journal:
    """Starts and outcomes reported by threads (any thread) and taken in by the loop (one thread)."""

    def __init__(self) -> None:
        self._events: queue.SimpleQueue[_Start | Transition] = queue.SimpleQueue()
        self.pending: dict[str, Transition] = {}  # job id -> what to write, in report order
        self.confirmations: dict[str, Confirmation] = {}

    def started(self, job: JobRecord, at: datetime, confirmation: Confirmation | None = None) -> int:
        """Report a start; return how many events wait to be taken in."""
        self._events.put(_Start(job, at, confirmation))
        return self._events.qsize()

    def finished(self, outcome: Transition) -> int:
        """Report an outcome; return how many events wait to be taken in."""
        self._events.put(outcome)
        return self._events.qsize()

    def waiting(self) -> int:
        return self._events.qsize()

    def take_in(self) -> None:
        """Merge every reported event into ``pending`` (loop thread only)."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, _Start):
                job = event.job
                self.pending[job.id] = Transition(
                    job_id=job.id, queue_name=job.queue_name, attempt=job.next_attempt,
                    status=JobStatus.RUNNING, started_at=event.at,
                )  # fmt: skip
                if event.confirmation is not None:
                    self.confirmations[job.id] = event.confirmation
                continue
            start = self.pending.get(event.job_id)
            if start is not None and start.status == JobStatus.RUNNING:
                event = replace(event, started_at=start.started_at)  # started and ended within one batch
            self.pending[event.job_id] = event

    def written(self, refused: set[str]) -> list[Transition]:
        """Forget what was written (or refused); wake threads waiting on their start; return it all."""
        done = list(self.pending.values())
        self.pending = {}
        for job_id, confirmation in self.confirmations.items():
            confirmation.recorded = job_id not in refused
            confirmation.done.set()
        self.confirmations = {}
        return done
