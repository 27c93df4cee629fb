"""Worker processes under a parent that starts a new one whenever one ends.

A child ends when a task takes its process down (``os._exit``, a segfault,
the kernel's OOM killer) or when it recycles itself after ``--max-jobs`` or
above ``--max-memory``. Nothing is lost either way: a recycling child finishes
or hands back its jobs like on SIGTERM, and the lease reaper of any worker
takes back the jobs of a child that died. The supervisor itself never talks to
the store, so a fault in a task cannot reach it.
"""

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

from django.db import connections

from .runner import Worker, install_signal_handlers

logger = logging.getLogger(__name__)

#: A child that dies sooner than this after starting is restarted after a growing pause.
QUICK_DEATH_SECONDS = 5.0
#: The pause after quick deaths, doubled each time up to the maximum.
RESTART_BACKOFF_SECONDS = (0.5, 10.0)
#: How often a child checks that its supervisor still lives.
PARENT_CHECK_SECONDS = 1.0

# Fork: a child starts in milliseconds, sharing the imported code; the parent
# holds no connection and runs no thread, so nothing unsafe is copied.
_FORK = multiprocessing.get_context("fork")
#: What stops a supervisor and its workers.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Supervisor:
    """Keep ``processes`` workers running until SIGTERM/SIGINT; return the exit code."""

    def __init__(self, processes: int, make_worker: Callable[[], Worker]) -> None:
        self.processes = processes
        self.make_worker = make_worker
        self.children: dict[BaseProcess, float] = {}  # child -> when it started
        self.signals = 0
        self._forwarded = 0
        self._stopped_badly = False  # a child failed to stop cleanly (could not hand back jobs...)
        self._pause = 0.0
        self._restart_at: list[float] = []

    def run(self) -> int:
        logger.info("supervisor starting pid=%d processes=%d", os.getpid(), self.processes)
        connections.close_all()
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        try:
            for _ in range(self.processes):
                self._start_child()
            while self.children or (self._restart_at and not self.signals):
                self._wait(wake_read)
                self._forward_signals()
                self._collect_dead()
                self._start_due()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            os.close(wake_read)
            os.close(wake_write)
        logger.info("supervisor stopped pid=%d", os.getpid())
        return 1 if self.signals > 1 or self._stopped_badly else 0

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals += 1

    def _wait(self, wake_read: int) -> None:
        timeout = None
        if self._restart_at and not self.signals:
            timeout = max(0.0, min(self._restart_at) - time.monotonic())
        waitables: list[int] = [child.sentinel for child in self.children]
        ready = multiprocessing.connection.wait([*waitables, wake_read], timeout)
        if wake_read in ready:
            os.read(wake_read, 512)

    def _forward_signals(self) -> None:
        """First signal: children stop gracefully. Second: they stop at once."""
        while self._forwarded < min(self.signals, 2):
            self._forwarded += 1
            logger.info("supervisor passing SIGTERM to %d worker processes", len(self.children))
            for child in self.children:
                if child.pid is not None:
                    os.kill(child.pid, signal.SIGTERM)

    def _collect_dead(self) -> None:
        for child, started in list(self.children.items()):
            if child.is_alive():
                continue
            child.join()
            del self.children[child]
            lived = time.monotonic() - started
            code = child.exitcode
            if self.signals:
                self._stopped_badly = self._stopped_badly or code != 0
                continue
            if code == 0:
                logger.info("worker process pid=%s recycled after %.1fs; starting another", child.pid, lived)
                self._pause = 0.0
            else:
                cause = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
                logger.warning(
                    "worker process pid=%s died (%s) after %.1fs; starting another", child.pid, cause, lived
                )
                if lived < QUICK_DEATH_SECONDS:
                    self._pause = min(
                        max(self._pause * 2, RESTART_BACKOFF_SECONDS[0]), RESTART_BACKOFF_SECONDS[1]
                    )
                else:
                    self._pause = 0.0
            self._restart_at.append(time.monotonic() + self._pause)

    def _start_due(self) -> None:
        if self.signals:
            self._restart_at.clear()
            return
        now = time.monotonic()
        due = [at for at in self._restart_at if at <= now]
        self._restart_at = [at for at in self._restart_at if at > now]
        for _ in due:
            self._start_child()

    def _start_child(self) -> None:
        child = _FORK.Process(target=_run_child, args=(self.make_worker, os.getpid()), name="backroom-worker")
        # A child inherits the supervisor's handlers: a SIGTERM passed on before it installs the worker's
        # would be swallowed and the child run on. Blocked from the fork, it waits for them instead.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            child.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.children[child] = time.monotonic()


def _run_child(make_worker: Callable[[], Worker], parent_pid: int) -> None:
    """The body of a child process: one worker, stopped when the supervisor goes away."""
    signal.set_wakeup_fd(-1)
    worker = make_worker()
    install_signal_handlers(worker)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # one sent meanwhile is handled now
    threading.Thread(
        target=_watch_parent, args=(worker, parent_pid), name="backroom-parent", daemon=True
    ).start()
    sys.exit(worker.run())


def _watch_parent(worker: Worker, parent_pid: int) -> None:
    """Stop gracefully if the supervisor was killed: a worker without one would never be replaced."""
    while not worker.stop.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != parent_pid:
            logger.warning("supervisor pid=%d is gone; stopping", parent_pid)
            worker.request_stop()
            return
