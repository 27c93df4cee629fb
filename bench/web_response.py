"""Sign-up response times of the demo: the welcome email in the background, or inside the request.

    .venv/bin/python bench/web_response.py 200 --sync-n 20

Starts a demo of its own (example/run.py: web server, worker, SMTP sink with
its 1.5 s delay) on free ports, in a scratch directory, so that the demo you
run yourself never inherits minutes of queued welcome emails. Signs up N new
users in each mode, one request at a time (after one warm-up request per
mode), and prints p50/p95 of the response time as this client measures it
(request sent to response read) and as the view measured it (its
Server-Timing header), then how many times slower sync mode is. Then it
stops that demo and deletes the directory, with the emails still queued.
"""

import argparse
import http.cookiejar
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from measure import answers, free_port, percentile, timed_open, wait_until

DEMO = Path(__file__).resolve().parent.parent / "example" / "run.py"
#: run.py's own limit for migrating and starting its processes, and a little more.
START_TIMEOUT_SECONDS = 90
#: The worker finishes the email it is sending (the sink's 1.5 s), then everything stops.
STOP_TIMEOUT_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Timing:
    client_ms: float
    server_ms: float


class DemoClient:
    """Signs users up on the demo, with the CSRF cookie a browser would carry."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
        with self.opener.open(f"{self.base_url}/", timeout=30) as response:
            response.read()
        self.csrf_token = next(c.value or "" for c in cookies if c.name == "csrftoken")

    def sign_up(self, mode: str) -> Timing:
        data = urllib.parse.urlencode({"email": f"bench-{uuid.uuid4().hex}@example.com", "mode": mode})
        request = urllib.request.Request(
            f"{self.base_url}/register/", data=data.encode(), headers={"X-CSRFToken": self.csrf_token}
        )
        client_ms, body, headers = timed_open(self.opener, request)
        if b"User registered" not in body:
            raise RuntimeError(f"{mode} sign-up was not registered: {body[:300]!r}")
        server_timing = headers.get("Server-Timing", "")  # "app;dur=12.3"
        return Timing(client_ms=client_ms, server_ms=float(server_timing.partition("dur=")[2] or "nan"))


@contextmanager
def scratch_demo() -> Iterator[str]:
    """Run the demo on free ports in a scratch directory; yield its URL; stop it, delete the directory."""
    with tempfile.TemporaryDirectory(prefix="backroom-web-response-") as data_dir:
        port, log = free_port(), Path(data_dir) / "run.log"
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, str(DEMO), "--port", str(port), "--smtp-port", str(free_port())]
        with log.open("wb") as output:
            demo = subprocess.Popen(
                [*command, "--data-dir", data_dir], stdout=output, stderr=subprocess.STDOUT
            )
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: no proxy
            wait_until(
                lambda: demo.poll() is not None or answers(opener, f"{url}/"),
                START_TIMEOUT_SECONDS, "the demo to start",
            )  # fmt: skip
            if demo.poll() is not None:
                raise RuntimeError(f"the demo exited with code {demo.returncode}:\n{log.read_text()}")
            yield url
        finally:
            demo.send_signal(signal.SIGINT)  # as Ctrl-C: run.py stops its web server, worker and sink
            try:
                demo.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()


def measure(client: DemoClient, mode: str, count: int) -> list[Timing]:
    client.sign_up(mode)  # warm-up: lazy imports, first connections
    return [client.sign_up(mode) for _ in range(count)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="Sign-ups per mode.")
    parser.add_argument("--sync-n", type=int, help="Sign-ups in sync mode (each waits for the mail server).")
    args = parser.parse_args(argv)
    if args.n < 1 or (args.sync_n is not None and args.sync_n < 1):
        parser.error("counts must be at least 1")

    with scratch_demo() as url:
        client = DemoClient(url)
        results = {
            "background": measure(client, "background", args.n),
            "sync": measure(client, "sync", args.sync_n or args.n),
        }
    print("Sign-up response times of a scratch demo, one request at a time (ms):")
    print(f"{'mode':<11}{'n':>5}{'p50':>10}{'p95':>10}{'server p50':>12}{'server p95':>12}")
    summary = {}
    for mode, timings in results.items():
        client_ms = [t.client_ms for t in timings]
        server_ms = [t.server_ms for t in timings]
        summary[mode] = (percentile(client_ms, 50), percentile(client_ms, 95))
        print(
            f"{mode:<11}{len(timings):>5}{summary[mode][0]:>10.1f}{summary[mode][1]:>10.1f}"
            f"{percentile(server_ms, 50):>12.1f}{percentile(server_ms, 95):>12.1f}"
        )
    (bg_p50, bg_p95), (sync_p50, sync_p95) = summary["background"], summary["sync"]
    print(f"sync / background: p50 {sync_p50 / bg_p50:.0f}x, p95 {sync_p95 / bg_p95:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
