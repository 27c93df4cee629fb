"""Settings for scheduler processes in real time: a one-second schedule on each store."""

from tests.settings import *  # noqa: F403

BACKROOM = {
    "SCHEDULES": {
        "backroom.prune": None,
        "every-second": {
            "task": "tests.tasks.record",
            "interval": 1,
            "kwargs": {"label": "every-second", "using": "pg"},
            "backend": "pg",
            "missed": "all",
        },
        "every-second-sqlite": {
            "task": "tests.tasks.record",
            "interval": 1,
            "kwargs": {"label": "every-second-sqlite", "using": "default"},
            "missed": "all",
        },
    }
}
if "redis" in TASKS:  # noqa: F405
    BACKROOM["SCHEDULES"]["every-second-redis"] = {
        "task": "tests.tasks.record",
        "interval": 1,
        "kwargs": {"label": "every-second-redis", "using": "redis"},
        "backend": "redis",
        "missed": "all",
    }
