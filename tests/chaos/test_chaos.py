"""Workers SIGKILLed at random while jobs run: nothing is lost, repeats stay bounded."""

import pytest
from django.conf import settings

from ..support import delete_redis_keys
from .harness import run_chaos

#: The stores the chaos run covers.
CHAOS_STORES = ["pg", "redis"]


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("store", CHAOS_STORES)
def test_chaos_kills_lose_nothing(store, tmp_path, request):
    if store not in settings.TASKS:
        reason = settings.REDIS_UNAVAILABLE if store == "redis" else settings.POSTGRES_UNAVAILABLE
        pytest.skip(f"{store} is not configured: {reason}")
    if store == "redis":  # the run's jobs stay in Redis unless deleted: later tests count jobs
        request.addfinalizer(lambda: delete_redis_keys(store))
    figures = run_chaos(
        store,
        jobs=1000,
        workers=3,
        concurrency=4,
        kill_every=0.7,
        max_kills=4,
        max_ms=20,
        log_dir=tmp_path,
        timeout=180,
        say=print,
    )
    print(figures.report())
    assert figures.problems() == []
    assert figures.kills >= 3, "the run ended before the driver could kill"
    assert figures.taken_back >= 1, "no kill landed on a running job"
    assert figures.jobs == 1000
