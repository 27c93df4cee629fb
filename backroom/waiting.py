"""How the long-running loops (worker, scheduler) wait for ``manage.py migrate``.

A worker started by a deploy before the migrations have run should go to work
as soon as they have, without flooding the log meanwhile: it checks every few
seconds, says "run migrate" when it first finds the tables missing and then
once a minute, and says when they appear.
"""

import logging

from .exceptions import StoreNotReady

#: How often a waiting loop checks for the tables: it goes to work within this long of migrate.
CHECK_SECONDS = 5.0
#: How often it repeats that it is waiting.
SAY_EVERY_SECONDS = 60.0


class MigrateWait:
    """Say "run migrate" at a low rate while a loop waits for backroom's tables; say when they appear."""

    def __init__(self, logger: logging.Logger, who: str) -> None:
        self.logger = logger
        self.who = who
        self._said_at: float | None = None  # monotonic seconds; None while the tables are there

    def missing(self, exc: StoreNotReady, now: float) -> float:
        """Log ``exc`` if it was not said within the last minute; return the seconds to wait."""
        if self._said_at is None or now - self._said_at >= SAY_EVERY_SECONDS:
            self.logger.warning("%s The %s waits, checking every %.0fs.", exc, self.who, CHECK_SECONDS)
            self._said_at = now
        return CHECK_SECONDS

    def found(self) -> None:
        """After a wait, say that the tables are there."""
        if self._said_at is not None:
            self.logger.info("backroom's tables are in place: the %s goes to work", self.who)
            self._said_at = None
