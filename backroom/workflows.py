"""Workflows: calls run one after another (``chain``) or side by side with a callback (``group``).

Every job of a workflow is stored at enqueue, in one atomic write, each with
its links (``jobs/links.py``); a job that waits for others is not claimable
until the store releases it, in the same write as its parents' outcome. So
a worker killed between two steps loses nothing, and no job is released twice.
docs/workflows.md describes the guarantees.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from .backends.base import BackroomBackend
from .compat import InvalidTask, Task, TaskResult
from .jobs.building import shown
from .jobs.links import Links, Takes


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a task in a workflow: the task (with its ``using()`` options) and its arguments."""

    task: Task
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def call(task: Task, /, *args: Any, **kwargs: Any) -> Call:
    """Describe one call of ``task`` for ``chain`` or ``group``; options come from ``task.using(...)``."""
    if not isinstance(task, Task):
        raise TypeError(f"call() takes a task (a function decorated with @task), not {shown(task)}.")
    return Call(task, args, kwargs)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainResults:
    """The jobs of an enqueued chain: ``results`` in step order, the last of them as ``last``."""

    results: list[TaskResult]
    on_failure: TaskResult | None = None

    @property
    def last(self) -> TaskResult:
        """The last step: its return value is the chain's."""
        return self.results[-1]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupResults:
    """The jobs of an enqueued group: its members' ``results`` in order, and the callback ``then``."""

    results: list[TaskResult]
    then: TaskResult
    on_failure: TaskResult | None = None


@dataclass(frozen=True, slots=True)
class Chain:
    """Steps run one after another, each given the previous one's return value as its first argument."""

    steps: tuple[Call, ...]
    on_failure: Call | None = None

    def enqueue(self) -> ChainResults:
        """Store every job of the chain at once; the first step is ready, the others wait."""
        calls = [*self.steps, *([self.on_failure] if self.on_failure else [])]
        results = _enqueue(calls, self._links)
        return ChainResults(
            results=results[: len(self.steps)], on_failure=results[-1] if self.on_failure else None
        )

    async def aenqueue(self) -> ChainResults:
        """``enqueue`` for async code."""
        return await sync_to_async(self.enqueue)()

    def _links(self, ids: Sequence[str]) -> list[Links]:
        steps = ids[: len(self.steps)]
        on_failure = ids[-1] if self.on_failure else None
        links = [
            Links(
                parents=tuple(steps[index - 1 : index]),
                takes=Takes.RESULT if index else None,
                children=tuple(steps[index + 1 : index + 2]),
                on_failure=on_failure,
                last=index == len(steps) - 1,
            )
            for index in range(len(steps))
        ]
        if on_failure:
            links.append(Links(parents=tuple(steps), takes=Takes.FAILED_ID))
        return links


@dataclass(frozen=True, slots=True)
class Group:
    """Members run side by side; once all succeeded, ``then`` runs with the list of their results."""

    members: tuple[Call, ...]
    then: Call
    on_failure: Call | None = None

    def enqueue(self) -> GroupResults:
        """Store every job of the group at once: the members are ready, ``then`` waits for them all."""
        calls = [*self.members, self.then, *([self.on_failure] if self.on_failure else [])]
        results = _enqueue(calls, self._links)
        count = len(self.members)
        return GroupResults(
            results=results[:count],
            then=results[count],
            on_failure=results[count + 1] if self.on_failure else None,
        )

    async def aenqueue(self) -> GroupResults:
        """``enqueue`` for async code."""
        return await sync_to_async(self.enqueue)()

    def _links(self, ids: Sequence[str]) -> list[Links]:
        count = len(self.members)
        members, then = tuple(ids[:count]), ids[count]
        on_failure = ids[count + 1] if self.on_failure else None
        links = [Links(children=(then,), on_failure=on_failure) for _ in members]
        links.append(Links(parents=members, takes=Takes.RESULTS, on_failure=on_failure, last=True))
        if on_failure:
            links.append(Links(parents=(*members, then), takes=Takes.FAILED_ID))
        return links


def chain(*steps: Call, on_failure: Call | None = None) -> Chain:
    """Run ``steps`` one after another; a step that fails stops the chain and runs ``on_failure``."""
    _check_calls("chain()", steps)
    _check_calls("chain()", [on_failure] if on_failure is not None else [], label="on_failure")
    return Chain(tuple(steps), on_failure)


def group(*members: Call, then: Call, on_failure: Call | None = None) -> Group:
    """Run ``members`` side by side, then ``then`` with their results; a failure runs ``on_failure``."""
    _check_calls("group()", members)
    _check_calls("group()", [then], label="then")
    _check_calls("group()", [on_failure] if on_failure is not None else [], label="on_failure")
    return Group(tuple(members), then, on_failure)


def _check_calls(where: str, calls: Sequence[Any], label: str = "step") -> None:
    if label == "step" and not calls:
        raise TypeError(f"{where} needs at least one backroom.call(task, ...).")
    for index, item in enumerate(calls):
        if not isinstance(item, Call):
            name = label if label != "step" else f"step {index}"
            raise TypeError(
                f"{where}: {name} is {shown(item)}, not a backroom.call(task, ...). "
                "Chains and groups take calls; they do not nest."
            )


def _enqueue(calls: Sequence[Call], links_for: Callable[[Sequence[str]], list[Links]]) -> list[TaskResult]:
    """Store the jobs of ``calls``, linked by ``links_for(their ids)``, in one write."""
    backend = _backend_of(calls)
    return backend.enqueue_workflow([(c.task, c.args, c.kwargs) for c in calls], links_for)


def _backend_of(calls: Sequence[Call]) -> BackroomBackend:
    """The one backroom backend every call's task uses; InvalidTask naming what differs otherwise."""
    aliases = sorted({item.task.backend for item in calls})
    if len(aliases) > 1:
        raise InvalidTask(
            f"A workflow's calls must use one backend (one store), not {', '.join(map(repr, aliases))}."
        )
    backend = calls[0].task.get_backend()
    if not isinstance(backend, BackroomBackend):
        raise InvalidTask(
            f"Chains and groups need a backroom backend; TASKS[{aliases[0]!r}] is "
            f"{type(backend).__name__}, which cannot store a workflow's links. In tests, keep backroom's "
            "backend and run its jobs with backroom.testing.drain() (docs/guide.md, 'Testing your tasks')."
        )
    return backend
