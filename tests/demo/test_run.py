"""The demo's one command: up on free ports, down cleanly on Ctrl-C or SIGTERM, clear about busy ports,
serving on when its worker stops, with a staff login that stays the same."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from tests.support import wait_until

from .conftest import EXAMPLE, demo_env, free_port


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_one_signal_stops_every_process_cleanly(start_demo, signum):
    demo = start_demo().wait_ready()
    with urllib.request.urlopen(demo.url("/"), timeout=10) as response:
        assert response.status == 200
    assert _accepts(demo.smtp_port)

    assert demo.stop(signum) == 0, demo.output()
    output = demo.output()
    for name in ("web", "worker", "sink"):
        assert f"{name} stopped (exit code 0)" in output, output
    assert "worker stopped id=" in output  # the worker's own graceful-shutdown line
    assert not _accepts(demo.port) and not _accepts(demo.smtp_port)


def test_a_busy_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "run.py"), "--port", str(port), "--smtp-port", str(free_port()),
             "--data-dir", str(tmp_path)],
            env=demo_env(tmp_path, 0), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"Port {port} (web) is already in use" in result.stderr
    assert "--port or DEMO_PORT" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()  # nothing started


def test_the_site_outlives_its_worker(start_demo):
    demo = start_demo().wait_ready()
    # Its signal handlers are in place once it says it is starting.
    wait_until(lambda: "worker starting id=" in demo.output(), what="the worker to start")
    worker_pid = int(re.search(r"^  worker +pid (\d+) ", demo.output(), re.MULTILINE).group(1))
    os.kill(worker_pid, signal.SIGTERM)  # as a user stopping the worker in another terminal

    exited = re.compile(r"^worker exited with code 0: the site keeps running.*$", re.MULTILINE)
    line = wait_until(
        lambda: exited.search(demo.output()), what="the supervisor to notice the worker's exit"
    ).group(0)
    assert f"Start a worker again in another terminal: DEMO_DATA_DIR={demo.data_dir}" in line
    assert line.endswith(f"DEMO_SMTP_PORT={demo.smtp_port} ./dev manage backroom worker")
    with urllib.request.urlopen(demo.url("/"), timeout=10) as response:
        assert response.status == 200
    assert _accepts(demo.smtp_port)
    assert demo.process.poll() is None

    assert demo.stop() == 0, demo.output()
    output = demo.output()
    assert "web stopped (exit code 0)" in output and "sink stopped (exit code 0)" in output
    assert "worker stopped (exit code" not in output  # already gone: not stopped twice
    assert "stopping the demo" not in output


def test_no_worker_starts_none_and_says_how_to(start_demo):
    demo = start_demo("--no-worker").wait_ready()
    output = demo.output()
    assert "worker | " not in output
    hint = r"^  worker +not started \(--no-worker\); start one with .*\./dev manage backroom worker$"
    assert re.search(hint, output, re.MULTILINE), output


def test_the_staff_login_is_made_once_and_kept(tmp_path, migrated_db):
    shutil.copy(migrated_db, tmp_path / "db.sqlite3")

    def staff_login() -> str:
        return subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), "demo_staff"],
            env=demo_env(tmp_path, 0), capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    first = staff_login()
    password = (tmp_path / "staff_password").read_text().strip()
    assert first == f"user admin, password {password}"
    assert len(password) >= 16
    assert staff_login() == first  # the same login at every start
