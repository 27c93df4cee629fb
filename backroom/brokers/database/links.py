"""Workflow links on a database: what a linked job's final outcome does to the jobs that wait on it.

Called inside the transaction that records the outcome (or the
cancellation), so the outcome and its consequences commit together: a
worker killed in between loses nothing, and nothing runs twice. A waiting
job counts its parents down under its row lock; the parent that takes it
to zero releases it, with its first argument, as the only one that can.
A batch locks the jobs its outcomes act on first, in id order
(``lock_in_order``), so two batches settling jobs of the same workflows do
not lock them in opposite orders and deadlock.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.backends.utils import CursorWrapper

from ...jobs.json import dumps
from ...jobs.links import Links, Takes, settling_error
from ...jobs.records import ErrorRecord, JobStatus
from ..codec import links_or_none
from . import codec
from .connection import Database


def settle(
    db: Database,
    cursor: CursorWrapper,
    job_id: str,
    links: Links,
    status: JobStatus,
    at: datetime,
    *,
    return_value: str | None = None,
    cause: ErrorRecord | None = None,
) -> None:
    """Apply the links of job ``job_id``, which just ended with ``status`` at ``at``."""
    error = dumps(settling_error(job_id, status, cause, at).to_json())
    if status == JobStatus.SUCCESSFUL:
        for child in links.children:
            _count_down(db, cursor, child, at, return_value)
        if links.last and links.on_failure:
            _cancel(db, cursor, links.on_failure, at, error)
        return
    if links.on_failure:
        _count_down(db, cursor, links.on_failure, at, dumps(job_id))
    doomed = list(links.children)
    while doomed:  # the successors of a cancelled successor never run either
        child = doomed.pop()
        if _cancel(db, cursor, child, at, error):
            doomed += stored_links(db, cursor, db.id(child)).children


def lock_in_order(db: Database, cursor: CursorWrapper, batch: Sequence[Links]) -> None:
    """Lock the jobs a batch of outcomes releases or cancels first, in one order every batch follows."""
    targets = sorted(
        {db.id(job_id) for links in batch for job_id in (*links.children, links.on_failure) if job_id}
    )
    if targets and db.dialect.lock_rows:
        cursor.execute(db.sql.lock_jobs(len(targets)), targets)


def _count_down(db: Database, cursor: CursorWrapper, job_id: str, at: datetime, value: str | None) -> None:
    """Count one parent off a waiting job; release it when none is left."""
    db_id = db.id(job_id)
    cursor.execute(db.sql.count_down, (db_id,))
    if not cursor.rowcount:
        return  # no longer waiting: cancelled meanwhile, or released by another failure
    cursor.execute(db.sql.select_waiting, (db_id,))
    waiting_for, args, run_after = cursor.fetchone()
    if waiting_for:
        return
    own = stored_links(db, cursor, db_id)
    first = _results(db, cursor, own.parents) if own.takes is Takes.RESULTS else _json(value)
    due = codec.to_datetime(run_after)
    available_at = max(at, due) if due is not None else at
    cursor.execute(db.sql.release_waiting, (_prepended(first, args), db.time(available_at), db_id))


def stored_links(db: Database, cursor: CursorWrapper, db_id: str) -> Links:
    """A job's links; none where they were edited into nonsense (its reader names the defect)."""
    cursor.execute(db.sql.select_links, (db_id,))
    return links_or_none(cursor.fetchone()[0]) or Links()


def _prepended(first: Any, args: Any) -> str:
    """Stored arguments (JSON) with ``first`` before them; unchanged when they are not a list."""
    stored = _json(args)
    if not isinstance(stored, list):
        return args if isinstance(args, str) else dumps(args)
    return dumps([first, *stored])


def _results(db: Database, cursor: CursorWrapper, parents: Sequence[str]) -> list[Any]:
    """The return values of ``parents``, in their order (all finished: the last one just counted down)."""
    cursor.execute(db.sql.select_results(len(parents)), [db.id(parent) for parent in parents])
    values = {codec.job_id(job_id): _json(value) for job_id, value in cursor.fetchall()}
    return [values.get(parent) for parent in parents]


def _cancel(db: Database, cursor: CursorWrapper, job_id: str, at: datetime, error: str) -> bool:
    """End a job that still waits CANCELLED, unrun; return whether it waited."""
    cursor.execute(db.sql.cancel_waiting, [db.time(at), error, db.id(job_id)])
    return bool(cursor.rowcount)


def _json(value: Any) -> Any:
    """A JSON column's value, from text (or as the driver decoded it); None where it is not JSON."""
    if not isinstance(value, (str, bytes)):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None
