"""Status streams past their caps on PostgreSQL: the site answers, connections stay few.

Each test opens more streams than the caps allow (by default 100 in the
process, 2 per result), keeps the admitted ones open while it samples
PostgreSQL's connections to the test database (pg_stat_activity) and asks
the site for other pages, then closes them all. Figures go to stdout (``-s``)
for docs/reliability.md.
"""

import asyncio
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
import pytest
from django.contrib.auth.models import User
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.test import Client

from backroom import status_token
from backroom.status import views
from backroom.status.reading import READ_CONCURRENCY
from backroom.status.stream import StreamLimits
from tests import tasks
from tests.support import wait_until

pytestmark = pytest.mark.urls("tests.urls")

RESULTS = 60
ATTEMPTS_PER_RESULT = 3  # one more than STATUS_STREAMS_PER_TOKEN
STREAMS_MAX = 100  # the default cap
#: Reads every 0.5 s (the default); keep-alives every second so that readers see the stream move.
LIMITS = StreamLimits(poll_seconds=0.5, keepalive_seconds=1.0, max_seconds=120)
#: A closed connection's server process may be listed a moment longer while its successor connects.
LINGERING = 2


class Connections:
    """Samples the count of connections to one PostgreSQL database, from a connection to another."""

    def __init__(self, alias: str) -> None:
        params = connections[alias].settings_dict
        self.database = params["NAME"]
        self.monitor = psycopg.connect(
            host=params["HOST"], port=params["PORT"], user=params["USER"], dbname="postgres", autocommit=True
        )
        self.samples: list[int] = []

    def count(self) -> int:
        row = self.monitor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.database,)
        ).fetchone()
        return int(row[0])

    def sample(self, seconds: float, interval: float = 0.02) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.samples.append(self.count())
            time.sleep(interval)

    def close(self) -> None:
        self.monitor.close()


@pytest.fixture
def pg_connections(pg):
    watched = Connections(pg)
    yield watched
    watched.close()


@pytest.fixture
def tokens(pg, monkeypatch):
    monkeypatch.setattr(views, "LIMITS", LIMITS)
    results = [tasks.add.using(backend=pg).enqueue(i, i) for i in range(RESULTS)]  # READY: no worker runs
    return [status_token(result) for result in results for _ in range(ATTEMPTS_PER_RESULT)]


@dataclass
class Figures:
    opened: int = 0
    refused: int = 0
    refused_with_retry_after: int = 0
    connections: list[int] = field(default_factory=list)
    threads_before: int = 0
    threads_open: int = 0
    answered_in: float = 0.0

    def report(self, label: str, baseline: int) -> None:
        print(
            f"\n{label}: streams asked={RESULTS * ATTEMPTS_PER_RESULT} opened={self.opened} "
            f"refused={self.refused} (Retry-After on {self.refused_with_retry_after}) "
            f"pg connections baseline={baseline} peak={max(self.connections)} "
            f"median={statistics.median(self.connections)} samples={len(self.connections)} "
            f"threads before={self.threads_before} while open={self.threads_open} "
            f"other page answered in {self.answered_in * 1000:.0f} ms"
        )


def _assert_caps_held(figures: Figures) -> None:
    assert figures.opened == STREAMS_MAX
    assert figures.refused == RESULTS * ATTEMPTS_PER_RESULT - STREAMS_MAX
    assert figures.refused_with_retry_after == figures.refused


def test_wsgi_streams_past_the_caps(pg, tokens, pg_connections):
    """Under WSGI every admitted stream holds its request thread; database connections only while reading."""
    figures = Figures(threads_before=threading.active_count())
    baseline = pg_connections.count()
    stop = threading.Event()
    per_result: dict[str, int] = {}
    lock = threading.Lock()

    def watch(token: str) -> None:
        response = Client().get(f"/status/{token}/events/")
        with lock:
            if response.status_code == 503:
                figures.refused += 1
                figures.refused_with_retry_after += response.has_header("Retry-After")
                return
            assert response.status_code == 200
            figures.opened += 1
            per_result[token] = per_result.get(token, 0) + 1
        try:
            for _ in response.streaming_content:
                if stop.is_set():
                    break
        finally:
            response.close()

    with ThreadPoolExecutor(len(tokens)) as pool:
        futures = [pool.submit(watch, token) for token in tokens]
        wait_until(lambda: figures.opened + figures.refused == len(tokens), timeout=60, what="every answer")
        figures.threads_open = threading.active_count()
        assert views.SLOTS.open == STREAMS_MAX
        pg_connections.sample(3.0)
        # The site still answers, reading the same database: the JSON status, a dashboard page.
        staff = Client()
        staff.force_login(User.objects.create_superuser("root", password="pw"))
        started = time.monotonic()
        assert Client().get(f"/status/{tokens[0]}/").status_code == 200
        assert staff.get("/backroom/jobs/?backend=pg").status_code == 200
        figures.answered_in = time.monotonic() - started
        stop.set()
        for future in futures:
            future.result(timeout=30)
    figures.connections = pg_connections.samples
    figures.report("WSGI", baseline)
    _assert_caps_held(figures)
    assert max(per_result.values()) <= 2
    # Streams read at most READ_CONCURRENCY at a time and close what they opened; this test's
    # own thread may hold one more (the pages it asked for).
    assert max(figures.connections) <= baseline + READ_CONCURRENCY + 1 + LINGERING, figures.connections
    assert views.SLOTS.open == 0
    wait_until(lambda: pg_connections.count() <= baseline + 1, timeout=10, what="connections closed")


async def _asgi_request(app: ASGIHandler, path: str, disconnect: asyncio.Event, answer: dict) -> None:
    """One GET through Django's ASGI handler; the client hangs up when ``disconnect`` is set."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    requested = False

    async def receive() -> dict:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = dict(message["headers"])
        elif message.get("body"):
            answer.setdefault("chunks", []).append(message["body"])

    await app(scope, receive, send)


def test_asgi_streams_past_the_caps(pg, tokens, pg_connections):
    """Under ASGI streams wait without a thread of their own for reads; see docs/status.md for the rest."""
    figures = Figures(threads_before=threading.active_count())
    baseline = pg_connections.count()

    async def run() -> None:
        app = ASGIHandler()
        disconnect = asyncio.Event()
        answers = [{} for _ in tokens]
        streams = [
            asyncio.create_task(_asgi_request(app, f"/status/{token}/events/", disconnect, answer))
            for token, answer in zip(tokens, answers, strict=True)
        ]
        while sum("status" in a for a in answers) < len(tokens) or any(
            a["status"] == 200 and not a.get("chunks") for a in answers if "status" in a
        ):
            await asyncio.sleep(0.05)
        figures.opened = sum(a["status"] == 200 for a in answers)
        figures.refused = sum(a["status"] == 503 for a in answers)
        figures.refused_with_retry_after = sum(
            a["status"] == 503 and b"Retry-After" in a["headers"] for a in answers
        )
        figures.threads_open = threading.active_count()
        assert views.SLOTS.open == STREAMS_MAX
        await asyncio.to_thread(pg_connections.sample, 3.0)
        started = time.monotonic()
        page: dict = {}
        await asyncio.wait_for(_asgi_request(app, f"/status/{tokens[0]}/", asyncio.Event(), page), 10)
        assert page["status"] == 200
        figures.answered_in = time.monotonic() - started
        disconnect.set()  # every client hangs up
        await asyncio.wait_for(asyncio.gather(*streams), 30)

    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, run()).result(timeout=120)
    figures.connections = pg_connections.samples
    figures.report("ASGI", baseline)
    _assert_caps_held(figures)
    assert max(figures.connections) <= baseline + READ_CONCURRENCY + LINGERING, figures.connections
    # What an open stream holds under ASGI: Django's thread of its request (for the request signals
    # and sync middleware), idle; never a connection. Beyond those, the READ_CONCURRENCY read threads.
    # (The test itself adds a few: the thread its event loop runs in, asyncio's to_thread executor.)
    assert figures.threads_open <= figures.threads_before + STREAMS_MAX + READ_CONCURRENCY + 12
    assert views.SLOTS.open == 0
    wait_until(lambda: pg_connections.count() <= baseline, timeout=10, what="connections closed")
