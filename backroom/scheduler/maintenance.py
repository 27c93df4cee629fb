"""The task behind backroom's maintenance schedule: prune finished jobs past their retention."""

from django.utils import timezone

from ..backends.stores import store_for
from ..compat import TaskContext, task
from .retention import prune, read_retention


@task(takes_context=True)
def prune_finished_jobs(context: TaskContext) -> dict[str, int]:
    """Prune the store this job came from, keeping what BACKROOM["RETENTION"] asks for."""
    retention, _ = read_retention()  # bad settings are system-check errors; their defaults apply
    pruned = prune(store_for(context.task_result.backend).broker, retention, timezone.now())
    return {"jobs": pruned.jobs, "schedule_runs": pruned.schedule_runs}
