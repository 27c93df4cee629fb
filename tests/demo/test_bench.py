"""bench/web_response.py: it runs a demo of its own, signs up in both modes, compares, and cleans up."""

import os
import re
import subprocess
import sys

from tests.support import ROOT


def test_web_response_bench_reports_both_modes_and_leaves_nothing_behind(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "web_response.py"), "3", "--sync-n", "1"],
        env={**os.environ, "TMPDIR": str(tmp_path)},  # where its scratch demo lives
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:4]}
    assert rows["background"][0] == "3" and rows["sync"][0] == "1"
    background_p50, sync_p50 = float(rows["background"][1]), float(rows["sync"][1])
    assert sync_p50 >= 1500 > background_p50  # sync mode waits for the sink's 1.5 s delay
    ratio = re.search(r"sync / background: p50 (\d+)x", result.stdout)
    # The table rounds each time to 0.1 ms, so the ratio of the printed times is exact only to that rounding.
    lowest, highest = (sync_p50 - 0.05) / (background_p50 + 0.05), (sync_p50 + 0.05) / (background_p50 - 0.05)
    assert ratio and lowest - 0.5 <= int(ratio.group(1)) <= highest + 0.5, result.stdout
    # Its demo's database, with the welcome emails still queued, went with the scratch directory.
    assert list(tmp_path.iterdir()) == []
