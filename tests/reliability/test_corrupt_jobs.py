"""Stored jobs corrupted field by field, on SQLite, PostgreSQL and Redis (hypothesis).

Each example enqueues a few jobs, corrupts one field of each the way a store
lets someone do it (raw SQL on a row, HSET or HDEL on a Redis job hash), and
runs a burst worker over them beside one good job. Then: the worker exits 0
and the good job succeeded; every corrupt job ended FAILED with a CorruptJob
naming the field (UnknownTask for a task path), or was left alone and reads
FAILED when its status is no status; the status endpoint's JSON and the
dashboard's pages answer 200 for it.
"""

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.db import connections
from django.test import Client
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from backroom import status_token
from backroom.brokers.database.codec import db_id
from backroom.jobs.json import dumps
from backroom.jobs.records import JobStatus
from backroom.status.tokens import SALT
from backroom.worker.runner import Worker, WorkerOptions
from tests import tasks
from tests.conftest import REDIS_STORES, STORE_NAMES
from tests.support import store_of

#: The kind of each store as far as corrupting it goes: a Redis Cluster's job hashes are Redis's.
STORE_KINDS = {alias: "redis" if alias in REDIS_STORES else kind for alias, kind in STORE_NAMES.items()}
STORE_KINDS["rabbitmq"] = "postgresql"  # its rows live in PostgreSQL (tests/settings.py)
EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CORRUPT = "backroom.exceptions.CorruptJob"
#: Fields a run writes before anything reads them: a READY job with nonsense there runs, and is whole after.
REWRITTEN_BY_A_RUN = {"started_at", "last_attempted_at", "finished_at"}
UNKNOWN_TASK = "backroom.exceptions.UnknownTask"

# What a store lets someone write into a field, by kind of field and store; every value here is wrong.
#: Text that reads as no number and no time. (On SQLite, text that looks like a time but is none,
#: "2024-13-45T99:99", has tests of its own at the end.)
garbage_text = st.sampled_from(["", "soon", "NaN", "1.5e", "\u00e9t\u00e9"]) | st.text(
    "abcxyz -:", max_size=8
)
#: Text that is no number and no time, and does not look like either.
letters = st.text("abcxyz -:", min_size=1, max_size=8)
storable = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=3)
not_a_status = st.text(st.characters(codec="ascii", exclude_characters="\x00"), max_size=10).filter(
    lambda text: text not in set(JobStatus)
)
not_a_task = st.sampled_from(
    [
        "os.system",
        "builtins.eval",
        "tests.tasks.not_a_task",
        "tests.tasks",
        "no.such.module",
        "x",
        "tests.tasks.add.func",
    ]
)
wrong_json_for = {
    list: st.none()
    | st.booleans()
    | st.integers()
    | storable
    | st.dictionaries(storable, st.integers(), max_size=2),
    dict: st.none() | st.booleans() | st.integers() | storable | st.lists(st.integers(), max_size=2),
}
not_json = st.sampled_from(["{", "[1,", "nope", "{'single': 'quotes'}", "NaN!", ""])
#: Lists that are lists, but not of what the field holds.
bad_entries = {
    "errors": st.lists(st.integers() | storable | st.just({"traceback": 1}), min_size=1, max_size=3),
    "worker_ids": st.lists(st.integers() | st.none() | st.just([]), min_size=1, max_size=3),
}


def number_out_of(low: int, high: int, store_low: int, store_high: int) -> st.SearchStrategy:
    """Whole numbers outside [low, high] that the store's column can hold."""
    return st.integers(store_low, low - 1) | st.integers(high + 1, store_high)


INT4 = (-(2**31), 2**31 - 1)
#: Microseconds since the epoch that no datetime can hold.
HUGE_MICROS = ["99999999999999999999999", "-99999999999999999999"]


def corruptions(kind: str) -> dict[str, st.SearchStrategy]:
    """For one kind of store: each field, and the wrong values it can be given there."""
    redis = kind == "redis"
    loose = kind in ("sqlite", "redis")  # columns (or hash fields) that hold anything
    text_number = garbage_text if loose else st.nothing()
    fields = {
        "task_path": not_a_task | st.just(""),
        "status": not_a_status,
        "priority": number_out_of(
            -100, 100, *((-32768, 32767) if kind in ("postgresql", "mariadb") else (-(2**62), 2**62))
        )
        | text_number,
        "attempts": st.integers(-(2**31), -1)
        | (garbage_text.filter(bool) if redis else st.nothing())
        | (st.integers(2**31, 2**62) if loose else st.nothing()),
        "max_attempts": st.integers(INT4[0], 0) | text_number,
        "orphaned": st.integers(INT4[0], -1) | text_number,
        # SQLite stores NaN as NULL (no timeout): nothing wrong there. MariaDB stores no NaN or infinity.
        "timeout_seconds": st.sampled_from([0.0, -1.0])
        | (st.sampled_from([float("inf"), float("-inf")]) if kind != "mariadb" else st.nothing())
        | (st.just(float("nan")) if kind in ("postgresql", "redis") else st.nothing())
        | (garbage_text if loose else st.nothing()),
    }
    for name, shape in (
        ("args", list),
        ("kwargs", dict),
        ("retry", dict),
        ("errors", list),
        ("worker_ids", list),
    ):
        # SQLite's JSON columns CHECK that they hold valid JSON: invalid text only goes into a Redis hash.
        fields[name] = wrong_json_for[shape].map(lambda value: ("json", value)) | (
            not_json if redis else st.nothing()
        )
        if name in bad_entries:
            fields[name] |= bad_entries[name].map(lambda value: ("json", value))
    if redis:
        for name in ("return_value", "progress"):
            fields[name] = not_json.filter(bool)  # empty text would read as no value: nothing wrong
    if redis:
        for name in (
            "available_at",
            "enqueued_at",
            "run_after",
            "started_at",
            "finished_at",
            "last_attempted_at",
        ):
            fields[name] = garbage_text.filter(bool)
            fields[name] |= st.sampled_from(HUGE_MICROS)
    if kind == "sqlite":
        # Django's SQLite connection reads a time column holding text that is no time as NULL: only a
        # required one is then wrong.
        fields["enqueued_at"] = letters
        fields["available_at"] = letters  # due at once all the same (Dialect.due_guard_ddl)
    if redis:
        for name in ("available_at", "enqueued_at", "attempts", "max_attempts", "task_path", "status"):
            fields[name] |= st.just(("delete", None))  # the field removed from the hash
    return fields


@dataclass(frozen=True)
class Damage:
    field: str
    value: object


def _damage(kind: str, data) -> list[Damage]:
    table = corruptions(kind)
    chosen = data.draw(
        st.lists(st.sampled_from(sorted(table)), min_size=1, max_size=4, unique=True), label="fields"
    )
    return [Damage(name, data.draw(table[name], label=name)) for name in chosen]


def _write(store: str, kind: str, job_id: str, damage: Damage) -> None:
    """Write the wrong value as someone with access to the store could."""
    value = damage.value
    if kind == "redis":
        redis = store_of(store).broker.redis
        key = redis.keys.job("default", job_id)
        if isinstance(value, tuple) and value[0] == "delete":
            redis.client.hdel(key, damage.field)
            return
        if isinstance(value, tuple):
            value = dumps(value[1])
        redis.client.hset(key, damage.field, str(value))
        return
    connection = connections[store]
    placeholder = "%s"
    if isinstance(value, tuple):  # JSON of the wrong shape
        value = dumps(value[1])
        placeholder = "%s::jsonb" if kind == "postgresql" else "%s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE backroom_job SET {damage.field} = {placeholder} WHERE id = %s",
            [value, db_id(connection, job_id)],
        )


def _run_burst(store: str, within: float = 30.0) -> int:
    """Run a burst worker; one still busy after ``within`` seconds spins: stop it and fail."""
    worker = Worker(store_of(store), WorkerOptions(burst=True, concurrency=2))
    fired = threading.Event()
    timer = threading.Timer(within, lambda: (fired.set(), worker.request_stop()))
    timer.start()
    try:
        code = worker.run()
    finally:
        timer.cancel()
    assert not fired.is_set(), f"the burst worker had to be stopped after {within}s"
    return code


def _raw_status(store: str, kind: str, job_id: str) -> object:
    if kind == "redis":
        redis = store_of(store).broker.redis
        return redis.client.hget(redis.keys.job("default", job_id), "status")
    with connections[store].cursor() as cursor:
        cursor.execute("SELECT status FROM backroom_job WHERE id = %s", [db_id(connections[store], job_id)])
        return cursor.fetchone()[0]


@pytest.fixture
def staff(db):
    client = Client()
    client.force_login(User.objects.create_superuser("fuzz", password="pw"))
    return client


@EXAMPLES
@given(data=st.data())
def test_corrupt_jobs_fail_naming_the_field_and_every_page_answers(store, staff, data):
    kind = STORE_KINDS[store]
    damages = _damage(kind, data)
    victims = [tasks.add.using(backend=store).enqueue(1, 2) for _ in damages]
    for result, damage in zip(victims, damages, strict=True):
        _write(store, kind, result.id, damage)
    good = tasks.add.using(backend=store).enqueue(2, 3)

    assert _run_burst(store) == 0
    good.refresh()
    assert (good.status, good.return_value) == ("SUCCESSFUL", 5)

    inspector = store_of(store).inspector
    for result, damage in zip(victims, damages, strict=True):
        note(f"{damage}")
        record = inspector.get(result.id)
        assert record is not None
        if damage.field in REWRITTEN_BY_A_RUN and record.status == JobStatus.SUCCESSFUL:
            assert record.defect is None and record.return_value == 3, (damage, record)
            continue
        assert record.status == JobStatus.FAILED, (damage, record.status, record.defect)
        last = record.errors[-1]
        if damage.field == "task_path" and damage.value not in ("", ("delete", None)):
            assert last.exception_class_path == UNKNOWN_TASK, (damage, last)
        else:
            assert last.exception_class_path == CORRUPT, (damage, last)
            assert damage.field in last.traceback, (damage, last.traceback)
        if damage.field == "status":
            assert _raw_status(store, kind, result.id) != "FAILED"  # never claimed: left as it was
        assert staff.get(f"/status/{status_token(result)}/").status_code == 200
        assert staff.get(f"/backroom/jobs/{result.id}/?backend={store}").status_code == 200
    for page in ("/backroom/jobs/", "/backroom/", "/backroom/?region=charts", "/backroom/workers/"):
        assert staff.get(f"{page}{'&' if '?' in page else '?'}backend={store}").status_code == 200


def _corrupt_one(store: str, field: str, value: object) -> str:
    result = tasks.add.using(backend=store).enqueue(1, 2)
    _write(store, STORE_KINDS[store], result.id, Damage(field, value))
    return result.id


def _answers(client: Client, store: str, job_id: str) -> list[int]:
    """The status codes of the pages that show the job: status JSON, job page, job list, overview."""
    client.raise_request_exception = False
    token = signing.dumps({"id": job_id, "backend": store}, salt=SALT)  # as status_token() signs it
    urls = [f"/status/{token}/", f"/backroom/jobs/{job_id}/?backend={store}"]
    urls += [f"/backroom/jobs/?backend={store}", f"/backroom/?backend={store}"]
    return [client.get(url).status_code for url in urls]


def test_a_job_page_with_two_billion_attempts_answers_at_once(store, staff):
    """Regression (found by the fuzz on Redis): the timeline walked every attempt the count named,
    and a job edited to 2**40 attempts ate the memory of the test run."""
    job_id = _corrupt_one(store, "attempts", 2**31 - 1)
    started = time.monotonic()
    response = staff.get(f"/backroom/jobs/{job_id}/?backend={store}")
    assert response.status_code == 200 and time.monotonic() - started < 5
    assert response.content.count(b"data-event") < 10


# Regressions the fuzzing found, one test each.


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_sqlite_attempts_that_are_not_a_number_end_the_job(staff):
    job_id = _corrupt_one("default", "attempts", "z")
    assert _run_burst("default") == 0
    record = store_of("default").inspector.get(job_id)
    assert record.status == JobStatus.FAILED, (record.status, record.defect)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_sqlite_a_job_due_at_no_time_does_not_read_ready_forever(staff):
    """Text that is no time and sorts after every date ("soon") was never due: the job read READY forever."""
    job_id = _corrupt_one("default", "available_at", "soon")
    assert _run_burst("default") == 0
    record = store_of("default").inspector.get(job_id)
    assert record.status == JobStatus.FAILED, (record.status, record.defect)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_sqlite_a_job_due_at_the_last_microsecond_of_9999_is_not_corrupt():
    """Regression: the guard above judged 9999-12-31 23:59:59.999999 no time (julianday() refuses it)."""
    result = tasks.add.using(backend="default", run_after=datetime.max.replace(tzinfo=UTC)).enqueue(1, 2)
    record = store_of("default").inspector.get(result.id)
    assert record.status == JobStatus.READY and record.defect is None, record.defect


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize(
    "field",
    [
        "available_at",
        "started_at",
        "finished_at",
        "run_after",
    ],
)
def test_sqlite_a_time_column_holding_no_time_breaks_no_reader(staff, field):
    """Regression: Django's SQLite converters raised ValueError on such text, out of every read of the
    row: the claim (the worker died), the status endpoint and the job page."""
    job_id = _corrupt_one("default", field, "2024-13-45T99:99")
    good = tasks.add.using(backend="default").enqueue(2, 3)
    assert _run_burst("default") == 0
    good.refresh()
    assert good.status == "SUCCESSFUL"
    assert _answers(staff, "default", job_id) == [200, 200, 200, 200]


def test_redis_attempts_nan_does_not_kill_the_worker(redis_store, staff):
    job_id = _corrupt_one(redis_store, "attempts", "NaN")
    assert _run_burst(redis_store) == 0
    assert store_of(redis_store).inspector.get(job_id).status == JobStatus.FAILED


@pytest.mark.parametrize("field", ["available_at", "last_attempted_at", "finished_at"])
def test_redis_overview_survives_a_finished_job_with_a_time_past_datetime(redis_store, staff, field):
    job_id = _corrupt_one(redis_store, "max_attempts", "0")  # fails at once: the charts count it
    assert _run_burst(redis_store) == 0
    redis = store_of(redis_store).broker.redis
    redis.client.hset(redis.keys.job("default", job_id), field, HUGE_MICROS[0])
    assert _answers(staff, redis_store, job_id) == [200, 200, 200, 200]


def test_redis_jobs_with_bad_statuses_at_the_head_do_not_hide_the_queue(redis_store):
    for value in ("", ("delete", None), "BOGUS", "done"):
        _corrupt_one(redis_store, "status", value)
    good = tasks.add.using(backend=redis_store).enqueue(2, 3)
    assert _run_burst(redis_store) == 0
    good.refresh()
    assert good.status == "SUCCESSFUL"
