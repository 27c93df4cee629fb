"""The demo's one command: up on free ports, down cleanly on Ctrl-C or SIGTERM, clear about busy ports."""

import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

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
