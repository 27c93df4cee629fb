"""``bench/run.py --quick`` on a few systems: it finishes, prints the table, writes the JSON and charts."""

import json
import os
import subprocess
import sys
import urllib.parse

import pytest
from django.conf import settings

from .support import ROOT

#: Two backroom stores, a PostgreSQL peer and a Redis peer with several worker configurations (both with
#: enqueue_many): the whole quick run takes too long for a test.
SYSTEMS = ("backroom-sqlite", "backroom-redis", "procrastinate", "rq")
RATES = ("enqueue_one", "drain_c1", "drain_best")
TIMES = ("pickup_p50_ms", "pickup_p99_ms", "request_enqueue_p50_ms", "request_nothing_p95_ms")


def bench_redis_url() -> str:
    """The test run's Redis server, database 14: not the database (13) of a bench run by hand."""
    return urllib.parse.urlsplit(settings.REDIS_URL)._replace(path="/14").geturl()


def test_quick_bench_prints_the_table_and_writes_the_json(tmp_path):
    # The references need both servers; tests/settings.py fails instead of skipping in CI.
    if settings.POSTGRES_UNAVAILABLE or settings.REDIS_UNAVAILABLE:
        pytest.skip(settings.POSTGRES_UNAVAILABLE or settings.REDIS_UNAVAILABLE)
    output = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BACKROOM_TEST"))}
    env["BENCH_REDIS_URL"] = bench_redis_url()
    command = [sys.executable, "bench/run.py", "--quick", "--systems", ",".join(SYSTEMS), "--json", output]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)

    assert result.returncode == 0, result.stdout + result.stderr
    header = next(line for line in result.stdout.splitlines() if "best peer" in line)
    assert header.split()[: len(SYSTEMS)] == list(SYSTEMS)
    assert "enqueue one by one (jobs/s)" in result.stdout
    assert "pickup p99 (ms)" in result.stdout
    assert "backroom-sqlite: SQLite cannot notify" in result.stdout  # the polling footnote
    assert "PostgreSQL reference" in result.stdout and "Redis reference" in result.stdout

    data = json.loads(output.read_text())
    assert data["quick"] is True and data["runs"] == 1 and data["failed"] == []
    assert set(data["systems"]) == set(SYSTEMS)
    for name in SYSTEMS:
        figures = data["systems"][name]
        for metric in (*RATES, *TIMES):
            assert figures[metric] > 0, (name, metric, figures)
        assert figures["enqueue_many"] is None or figures["enqueue_many"] > 0
    assert data["systems"]["rq"]["enqueue_many"] > 0  # RQ has Queue.enqueue_many
    assert data["systems"]["procrastinate"]["enqueue_many"] > 0  # and procrastinate batch_defer
    # Each figure names the worker configuration that measured it: RQ tries several.
    tried = set(data["per_run"]["rq"][0]["drain"])
    assert tried == {"SimpleWorker c=1", "worker-pool c=2", "worker-pool c=4"}
    assert data["systems"]["rq"]["drain_best_worker"] in tried
    assert data["systems"]["rq"]["pickup_worker"] == "SimpleWorker c=1"
    assert data["stores"]["procrastinate"] == "postgres"
    assert data["reference"]["postgres"] > 0 and data["reference"]["redis"] > 0
    assert data["machine"]["cpus"] >= 1
    charts = tmp_path / "bench-charts"
    assert (charts / "enqueue_one.svg").exists() and (charts / "pickup_p50_ms.svg").exists()
