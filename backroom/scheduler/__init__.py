"""Cron and interval schedules: declared in code or settings, enqueued once per slot."""

from .declaration import Missed, Schedule
from .registry import schedule

__all__ = ["Missed", "Schedule", "schedule"]
