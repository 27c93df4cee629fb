"""Sign-up response times of the running demo: the welcome email in the background, or inside the request.

    ./dev demo                                   # in another terminal
    .venv/bin/python bench/web_response.py http://127.0.0.1:8000 100 --sync-n 20

Signs up N new users in each mode, one request at a time (after one warm-up
request per mode), and prints p50/p95 of the response time as this client
measures it (request sent to response read) and as the view measured it
(its Server-Timing header), then how many times slower sync mode is.
"""

import argparse
import http.cookiejar
import sys
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

from measure import percentile, timed_open


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


def measure(client: DemoClient, mode: str, count: int) -> list[Timing]:
    client.sign_up(mode)  # warm-up: lazy imports, first connections
    return [client.sign_up(mode) for _ in range(count)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="The running demo, e.g. http://127.0.0.1:8000")
    parser.add_argument("n", type=int, help="Sign-ups per mode.")
    parser.add_argument("--sync-n", type=int, help="Sign-ups in sync mode (each waits for the mail server).")
    args = parser.parse_args(argv)
    if args.n < 1 or (args.sync_n is not None and args.sync_n < 1):
        parser.error("counts must be at least 1")

    client = DemoClient(args.url)
    results = {
        "background": measure(client, "background", args.n),
        "sync": measure(client, "sync", args.sync_n or args.n),
    }
    print(f"Sign-up response times at {args.url}, one request at a time (ms):")
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
