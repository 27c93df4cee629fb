"""Helpers of the measurements and of bench/web_response.py: percentiles, medians, waits, HTTP, ports."""

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], pct: int) -> float:
    """The pct-th percentile, inclusive of the extremes (so p99 of 200 values sits between the top two)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def median(values: Sequence[float | None]) -> float | None:
    """The median of the runs that measured it (a failed run is reported apart), or None (n/a)."""
    measured = [v for v in values if v is not None]
    return statistics.median(measured) if measured else None


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.01) -> Any:
    """Poll ``condition`` until it returns something truthy; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def timed_open(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request | str, timeout: float = 60
) -> tuple[float, bytes, Any]:
    """Send one request; return ms from sending it to reading the whole response, the body, the headers."""
    started = time.perf_counter()
    with opener.open(request, timeout=timeout) as response:
        body = response.read()
    return (time.perf_counter() - started) * 1000, body, response.headers


def answers(opener: urllib.request.OpenerDirector, url: str) -> bool:
    """Whether ``url`` answers with a success (an error status or no server: False)."""
    try:
        timed_open(opener, url, timeout=5)
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The stores of backroom a per-store script measures, by short name: the system measured on each.
STORES = {
    "sqlite": "backroom-sqlite",
    "pg": "backroom-pg",
    "maria": "backroom-maria",
    "redis": "backroom-redis",
}


def store_parser(description: str) -> argparse.ArgumentParser:
    """The options every per-store script takes: --stores, and the hidden ones of its sessions."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--stores", default=",".join(STORES), help=f"Comma-separated, of: {', '.join(STORES)}."
    )
    parser.add_argument("--session", help=argparse.SUPPRESS)  # one store, in this process
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser


def store_sessions(script: str, stores: Sequence[str], options: Sequence[str]) -> dict[str, Any]:
    """Run ``script --session STORE --out PATH *options`` per store (Django is set up once per process).

    Return what each session wrote to PATH (JSON), by store; a failed
    session is left out, its error on stderr.
    """
    results = {}
    for store in stores:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            print(f"{store} ...", file=sys.stderr, flush=True)
            command = [sys.executable, script, "--session", store, "--out", out.name, *options]
            if subprocess.run(command).returncode != 0:
                print(f"{store}: the session failed (its error is above)", file=sys.stderr)
                continue
            results[store] = json.loads(Path(out.name).read_text())
    return results
