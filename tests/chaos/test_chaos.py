"""Workers SIGKILLed at random while jobs run: nothing is lost, repeats stay bounded."""

import pytest

from .harness import run_chaos


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_chaos_kills_lose_nothing(store, tmp_path):
    """On every store (the fixture skips a store whose service is absent, and fails under CI)."""
    figures = run_chaos(
        store,
        jobs=1000,
        workers=3,
        concurrency=4,
        kill_every=0.7,
        max_kills=4,
        max_ms=60,  # long enough that a kill on the worker that last started a job lands mid-job
        log_dir=tmp_path,
        timeout=180,
        say=print,
    )
    print(figures.report())
    assert figures.problems() == []
    assert figures.kills >= 3, "the run ended before the driver could kill"
    assert figures.taken_back >= 1, "no kill landed on a running job"
    assert figures.jobs == 1000


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_chaos_with_a_rabbitmq_restart_loses_nothing(tmp_path):
    """Workers SIGKILLed, and RabbitMQ's application stopped and started mid-run."""
    from tests.conftest import _skip_without
    from tests.support import delete_rabbitmq_queues, rabbitmq_in_use, rabbitmq_stopped

    _skip_without("rabbitmq")
    with rabbitmq_in_use(alone=True):
        try:
            figures = run_chaos(
                "rabbitmq",
                jobs=1000,
                workers=3,
                concurrency=4,
                kill_every=0.7,
                max_kills=4,
                max_ms=60,
                log_dir=tmp_path,
                timeout=180,
                say=print,
                outage=rabbitmq_stopped,
            )
        finally:
            delete_rabbitmq_queues()
    print(figures.report())
    assert figures.problems() == []
    assert figures.jobs == 1000
