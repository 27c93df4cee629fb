"""A Redis Cluster primary killed mid-run (tests/chaos/failover.py), in a process of its own.

The run starts its own cluster (with replicas) and its own databases, so it
gets an environment without this test run's: nothing of the suite's is shared.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.support import ROOT


def test_a_primary_killed_mid_run_leaves_no_job_stuck_and_no_worker_dead():
    if "cluster" not in settings.TASKS:
        pytest.skip(settings.REDIS_CLUSTER_UNAVAILABLE)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BACKROOM_TEST_", "PYTEST_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "tests.chaos.failover", "--jobs", "1500"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr  # exit 1 names each broken promise
    figures = dict(line.strip().split(": ", 1) for line in result.stdout.splitlines() if line.startswith(" "))
    assert float(figures["failover_seconds"]) > 0, "the replica never took over"
    assert int(figures["jobs_finished"]) + int(figures["jobs_gone"]) == 1500
