"""The long run: 200,000 jobs through one worker without its memory growing (./dev test-slow)."""

import os

import pytest
from django.conf import settings

from .soak import run_soak

JOBS = int(os.environ.get("BACKROOM_SOAK_JOBS", "200000"))
#: Growth allowed between the warmed-up worker and the end of the run.
RSS_GROWTH_LIMIT_MB = 64


@pytest.mark.slow
@pytest.mark.timeout(7200)
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_long_run_keeps_memory_flat(tmp_path):
    if "pg" not in settings.TASKS:
        pytest.skip(settings.POSTGRES_UNAVAILABLE)
    figures = run_soak("pg", jobs=JOBS, concurrency=16, log_dir=tmp_path, say=print)
    print(figures.report())
    assert figures.successful == JOBS
    assert figures.rss_end_mb - figures.rss_warm_mb < RSS_GROWTH_LIMIT_MB, figures
