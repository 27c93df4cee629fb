"""Settings for scheduler processes in real time: a one-second schedule on each store."""

from tests.settings import *  # noqa: F403

BACKROOM = {
    "SCHEDULES": {
        "backroom.prune": None,
        **{
            f"every-second-{alias}": {
                "task": "tests.tasks.record",
                "interval": 1,
                "kwargs": {"label": f"every-second-{alias}", "using": alias},
                "backend": alias,
                "missed": "all",
            }
            for alias in TASKS  # noqa: F405
        },
    }
}
