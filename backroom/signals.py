"""backroom's own signals, beside Django's task_enqueued, task_started and task_finished."""

from django.dispatch import Signal

#: An attempt failed and another will follow. Arguments: task_result, retry_at.
task_retrying = Signal()
