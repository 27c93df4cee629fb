"""Before ``manage.py migrate``: enqueue and every verb say to run it, in one line; workers wait for it.

A Redis store has no tables: the same calls work there as they are.
"""

import logging
import signal
import subprocess
import sys

import pytest

from backroom.exceptions import StoreNotReady
from backroom.waiting import CHECK_SECONDS, SAY_EVERY_SECONDS, MigrateWait
from tests.support import ROOT, subprocess_env, wait_until

MIGRATE = "run `python manage.py migrate`"
UNKNOWN = "01234567-89ab-7def-8123-456789abcdef"
SQL_STORES = {"default", "pg", "maria"}
#: The test settings with a schedule on every store, so that `schedules` and `scheduler` read them.
SCHEDULED = "tests.schedules.e2e_settings"

ENQUEUE = """
import sys
import django
django.setup()
from backroom.exceptions import StoreNotReady
from tests import tasks
try:
    print("enqueued", tasks.noop.using(backend=sys.argv[1]).enqueue().id)
except StoreNotReady as exc:
    print("StoreNotReady:", exc)
"""

VERBS = [
    ["status", "--backend", "{store}"],
    ["retry", "--backend", "{store}", UNKNOWN],
    ["cancel", "--backend", "{store}", UNKNOWN],
    ["prune", "--backend", "{store}"],
    ["schedules"],
    ["worker", "--burst", "--backend", "{store}"],
]


def python(
    *args: str, env: dict[str, str], settings: str = "tests.settings"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE=settings, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_enqueue_before_migrate_says_to_run_it(store, unmigrated):
    result = python("-c", ENQUEUE, store, env=unmigrated(store))
    assert result.returncode == 0, result.stderr
    if store in SQL_STORES:
        [line] = result.stdout.splitlines()
        assert line.startswith("StoreNotReady: backroom's tables are missing") and MIGRATE in line
    else:
        assert result.stdout.startswith("enqueued ")


def test_every_verb_before_migrate_says_to_run_it_in_one_line(store, unmigrated):
    env = unmigrated(store)
    for verb in VERBS:
        args = [arg.format(store=store) for arg in verb]
        result = python("-m", "django", "backroom", *args, env=env, settings=SCHEDULED)
        said = [line for line in result.stderr.splitlines() if MIGRATE in line]
        assert "Traceback" not in result.stderr, (args, result.stderr)
        if store not in SQL_STORES:
            assert said == [] and result.returncode == (1 if args[0] in ("retry", "cancel") else 0), (
                args, result.stderr,
            )  # fmt: skip
        elif args[0] == "worker":  # among its log lines
            assert (result.returncode, len(said)) == (1, 1), result.stderr
        else:
            assert (result.returncode, result.stderr.splitlines()) == (1, said), (args, result.stderr)
            assert said[0].startswith("CommandError: backroom's tables are missing or out of date")


@pytest.mark.parametrize("verb", ["worker", "scheduler"])
def test_a_loop_started_before_migrate_waits_for_it_then_goes_to_work(
    sql_store, verb, unmigrated, worker_process
):
    env = unmigrated(sql_store)
    loop = worker_process("--backend", sql_store, verb=verb, DJANGO_SETTINGS_MODULE=SCHEDULED, **env)
    wait_until(lambda: MIGRATE in loop.output(), what=f"the {verb} to say to run migrate")
    assert loop.process.poll() is None, loop.output()

    migrated = python("-m", "django", "migrate", "--database", sql_store, "-v", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    wait_until(
        lambda: f"the {verb} goes to work" in loop.output(),
        timeout=CHECK_SECONDS + 20,
        what=f"the {verb} to find the tables",
    )
    if verb == "worker":
        enqueued = python("-c", ENQUEUE, sql_store, env=env)
        job_id = enqueued.stdout.removeprefix("enqueued ").strip()
        wait_until(lambda: f"job id={job_id} task=tests.tasks.noop outcome=successful" in loop.output())
    loop.send(signal.SIGTERM)
    assert loop.wait() == 0, loop.output()
    said = [line for line in loop.output().splitlines() if MIGRATE in line]
    # Said once by the loop (and once more by the scheduler, whose database schedules wait for it too).
    assert said and len(said) == len(set(said)), loop.output()


def test_the_wait_is_said_at_first_then_once_a_minute(caplog):
    logger = logging.getLogger("tests.cli.migrate_wait")
    wait = MigrateWait(logger, "worker")
    missing = StoreNotReady(f"backroom's tables are missing: {MIGRATE}.")
    with caplog.at_level(logging.INFO, logger=logger.name):
        delays = [wait.missing(missing, now) for now in (100.0, 105.0, 159.0, 160.0, 165.0)]
        wait.found()
        wait.found()
    assert delays == [CHECK_SECONDS] * 5
    assert SAY_EVERY_SECONDS == 60
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"{missing} The worker waits, checking every 5s."),
        ("WARNING", f"{missing} The worker waits, checking every 5s."),
        ("INFO", "backroom's tables are in place: the worker goes to work"),
    ]
