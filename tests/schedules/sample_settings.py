"""A sample project's settings: the test settings plus a few schedules, as a site would declare them."""

from tests.settings import *  # noqa: F403

BACKROOM = {
    "SCHEDULES": {
        "clear-sessions": {
            "task": "tests.tasks.record",
            "cron": "0 3 * * *",
            "timezone": "Europe/Paris",
            "args": ["clear-sessions"],
        },
        "weekly-digest": {
            "task": "tests.tasks.in_emails_queue",
            "cron": "0 9 * * MON",
            "timezone": "America/New_York",
            "args": ["digest"],
            "missed": "skip",
        },
        "refresh-cache": {
            "task": "tests.tasks.record",
            "interval": 300,
            "args": ["refresh-cache"],
            "priority": 10,
            "missed": "all",
            "missed_limit": 12,
        },
    },
    "RETENTION": {"SUCCESSFUL_DAYS": 7, "FAILED_DAYS": 30},
}
