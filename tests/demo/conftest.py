"""The demo as ``./dev demo`` runs it: example/run.py and its children, on free ports and temp files."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, wait_until

EXAMPLE = ROOT / "example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def demo_env(data_dir: Path, smtp_port: int) -> dict[str, str]:
    """The environment of a demo process; never the test settings pytest-django exported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BACKROOM_TEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        DEMO_DATA_DIR=str(data_dir),
        DEMO_SMTP_PORT=str(smtp_port),
        PYTHONUNBUFFERED="1",
    )
    return env


class Demo:
    """A running demo: its URLs, its outbox, its output; stopped like a user stops it."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.port, self.smtp_port = free_port(), free_port()
        self.log_path = data_dir / "run.log"
        with self.log_path.open("wb") as log:  # the child writes to its own copy of the file
            self.process = subprocess.Popen(
                [sys.executable, str(EXAMPLE / "run.py"), "--port", str(self.port),
                 "--smtp-port", str(self.smtp_port), "--data-dir", str(data_dir), *args],
                env=demo_env(data_dir, self.smtp_port),
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._sink: subprocess.Popen[bytes] | None = None

    def wait_ready(self) -> "Demo":
        wait_until(
            lambda: "Press Ctrl-C to stop." in self.output() or self.process.poll() is not None,
            timeout=90,
            interval=0.1,
            what="the demo to start",
        )
        assert self.process.poll() is None, self.output()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def received_by(self, address: str) -> list[dict[str, Any]]:
        """The messages the sink received for ``address``."""
        outbox = self.data_dir / "outbox.jsonl"
        lines = outbox.read_text().splitlines() if outbox.exists() else []
        return [m for m in map(json.loads, lines) if address in m["rcpt_tos"]]

    def start_sink(self, delay: float) -> None:
        """Start the SMTP sink by hand, for a demo started with --no-sink."""
        self._sink = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "manage.py"), "mailsink", "--delay", str(delay)],
            env=demo_env(self.data_dir, self.smtp_port),
            stdout=subprocess.DEVNULL,
        )

    def stop(self, signum: int = signal.SIGINT, timeout: float = 60) -> int:
        """Stop the demo as Ctrl-C does; return run.py's exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        for process in (self.process, self._sink):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """The demo's database, migrated once; each demo gets a copy of it."""
    data_dir = tmp_path_factory.mktemp("demo-template")
    subprocess.run(
        [sys.executable, str(EXAMPLE / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=demo_env(data_dir, 0),
        check=True,
    )
    return data_dir / "db.sqlite3"


@pytest.fixture
def start_demo(tmp_path_factory, migrated_db):
    """Start demos (run.py with the given flags); each is stopped at the end of the test."""
    started: list[Demo] = []

    def start(*args: str) -> Demo:
        data_dir = tmp_path_factory.mktemp("demo")
        shutil.copy(migrated_db, data_dir / "db.sqlite3")
        demo = Demo(data_dir, *args)
        started.append(demo)
        return demo

    yield start
    for demo in started:
        demo.stop()


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory, migrated_db):
    """One demo with the sink's default 1.5 s delay, shared by the tests that only sign up."""
    data_dir = tmp_path_factory.mktemp("demo")
    shutil.copy(migrated_db, data_dir / "db.sqlite3")
    running = Demo(data_dir).wait_ready()
    yield running
    running.stop()


@pytest.fixture
def demo(shared_demo):
    """The shared demo, still running: if it stopped, its own output says why."""
    assert shared_demo.process.poll() is None, shared_demo.output()
    return shared_demo


def unique_email(label: str) -> str:
    return f"{label}-{time.monotonic_ns()}@example.com"


def sign_up(page: Any, url: str, label: str) -> str:
    """Sign a new address up on the demo's page at ``url``; return it once the page says registered."""
    from playwright.sync_api import expect  # only the browser tests need it

    email = unique_email(label)
    page.goto(url)
    page.fill("#id_email", email)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("User registered")
    return email
