"""The task behind backroom's maintenance schedule: prune finished jobs past their retention."""

from typing import Any

from django.utils import timezone

from ..compat import TaskContext, task, task_backends
from ..pruning import prune, read_retention


@task(takes_context=True)
def prune_finished_jobs(context: TaskContext) -> dict[str, int]:
    """Prune the store this job came from, keeping what BACKROOM["RETENTION"] asks for."""
    retention, _ = read_retention()  # bad settings are system-check errors; their defaults apply
    backend: Any = task_backends[context.task_result.backend]  # a backroom backend: it ran this job
    pruned = prune(backend.broker, retention, timezone.now())
    return {"jobs": pruned.jobs, "schedule_runs": pruned.schedule_runs}
