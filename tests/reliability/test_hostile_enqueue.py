"""Hostile input at enqueue, tried systematically through the public API on every store.

Whatever the arguments and options, ``task.using(...).enqueue(...)`` and
``backroom.enqueue_many`` either store the job(s), readable again, or raise
Django's ``InvalidTask`` (``InvalidArguments`` for arguments) and store
nothing. No other exception type may escape.
"""

import datetime as dt
import decimal
import math

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import backroom
from backroom import RetryPolicy
from backroom.compat import InvalidTask
from backroom.jobs.json import MAX_DEPTH
from tests.chaos.tasks import echo
from tests.support import job_count, store_of

EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def nested(depth: int, leaf: object = 1, as_dict: bool = False) -> object:
    value = leaf
    for _ in range(depth):
        value = {"k": value} if as_dict else [value]
    return value


def huge_int() -> int:
    """An integer past Python's limit on digits converted to text."""
    return 10**5000


def cyclic() -> list:
    loop: list = []
    loop.append(loop)
    return loop


any_text = st.text(max_size=20) | st.text(st.characters(codec="utf-8"), max_size=5) | st.just("\x00")
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.builds(huge_int)
    | st.floats()  # NaN and infinities included
    | any_text
    | st.binary(max_size=8)
    | st.datetimes()
    | st.datetimes(timezones=st.timezones())
    | st.dates()
    | st.timedeltas()
    | st.decimals()
    | st.complex_numbers()
    | st.builds(object)
    | st.just(RetryPolicy())
    | st.builds(cyclic)
    | st.builds(nested, st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3), st.just(1), st.booleans())
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.sets(st.integers(), max_size=2)
        | st.dictionaries(any_text, children, max_size=3)
        | st.dictionaries(st.integers() | st.none() | st.tuples(st.integers()), children, max_size=2)
    ),
    max_leaves=8,
)

good_run_after = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)
#: For each option, values a caller might plausibly pass and hostile ones.
OPTIONS = {
    "priority": st.integers(-150, 150) | values,
    "queue_name": st.sampled_from(["default", "emails", "a.b:c-d_e"]) | st.text(max_size=70) | values,
    "run_after": good_run_after | st.datetimes() | st.just(dt.datetime.max.replace(tzinfo=dt.UTC)) | values,
    "max_attempts": st.integers(-3, 10) | st.sampled_from([2**31 - 1, 2**31, 2**63]) | values,
    "retry": st.builds(RetryPolicy, backoff_seconds=st.floats(0, 10), jitter=st.floats(0, 1)) | values,
    "timeout": st.floats(-1, 100) | st.timedeltas() | values,
    "unique_key": st.text(max_size=300) | values,
}
options = st.fixed_dictionaries({}, optional=OPTIONS)
kwargs = st.dictionaries(st.sampled_from(["a", "b", "c", "not an identifier", ""]), values, max_size=2)
calls = st.lists(
    st.tuples(st.lists(values, max_size=2), kwargs)
    | st.tuples(values, values)  # an (args, kwargs) pair of the wrong types
    | values,  # not a pair at all
    max_size=4,
)


def _stored_readably(store: str, job_ids: list[str]) -> None:
    broker = store_of(store).broker
    for job_id in job_ids:
        record = broker.get(job_id)
        assert record is not None and record.defect is None, (job_id, record)


def _assert_refused_or_stored(store: str, enqueue, expected: int, unique: bool = False) -> None:
    """Run ``enqueue``: InvalidTask and nothing stored, or ``expected`` jobs stored and readable.

    ``unique``: the job has a unique key, which an earlier example may have stored already.
    """
    before = job_count(store)
    try:
        results = enqueue()
    except InvalidTask as exc:
        note(f"refused: {type(exc).__name__}: {exc}")
        assert str(exc), "the error names the problem"
        assert job_count(store) == before, "refused, yet something was stored"
        return
    if not isinstance(results, list):
        results = [results]
    assert len(results) == expected
    assert job_count(store) == before + expected or (unique and job_count(store) == before)
    _stored_readably(store, [result.id for result in results])


@EXAMPLES
@given(options=options, args=st.lists(values, max_size=3), kwargs=kwargs)
def test_enqueue_refuses_hostile_input_with_invalid_task_only(store, options, args, kwargs):
    def enqueue():
        return echo.using(backend=store, **options).enqueue(*args, **kwargs)

    _assert_refused_or_stored(store, enqueue, 1, unique=options.get("unique_key") is not None)


@EXAMPLES
@given(options=options.map(lambda o: {k: v for k, v in o.items() if k != "unique_key"}), calls=calls)
def test_enqueue_many_refuses_hostile_input_with_invalid_task_only(store, options, calls):
    def enqueue():
        return backroom.enqueue_many(echo.using(backend=store, **options), calls)

    _assert_refused_or_stored(store, enqueue, len(calls))


def test_nesting_is_refused_past_max_depth_naming_the_argument(store):
    task = echo.using(backend=store)
    for builder in (False, True):
        assert task.enqueue(nested(MAX_DEPTH - 1, as_dict=builder)).id  # with the list of args: MAX_DEPTH
        for depth in (MAX_DEPTH, MAX_DEPTH * 10):
            try:
                task.enqueue(nested(depth, as_dict=builder))
            except InvalidTask as exc:
                assert (
                    "deeper than" in str(exc)
                    and f"{MAX_DEPTH} levels" in str(exc)
                    and "position 0" in str(exc)
                )
            else:
                raise AssertionError(f"depth {depth} was stored")
    assert job_count(store) == 2


@pytest.mark.parametrize("attempts", [2**31, 2**63])
@pytest.mark.parametrize("many", [False, True], ids=["enqueue", "enqueue_many"])
def test_more_attempts_than_a_store_can_count_are_refused(store, attempts, many):
    """Regression: 2**31 attempts were a StoreError on PostgreSQL, 2**63 an OverflowError on SQLite."""
    with pytest.raises(InvalidTask, match="max_attempts must be at most 2,147,483,647"):
        task = echo.using(backend=store, max_attempts=attempts)
        backroom.enqueue_many(task, [((), {})]) if many else task.enqueue()
    assert job_count(store) == 0


@pytest.mark.parametrize(
    "options",
    [{"queue_name": huge_int()}, {"timeout": (None, huge_int())}, {"unique_key": [huge_int()]}],
    ids=["queue_name", "timeout", "unique_key"],
)
def test_options_that_cannot_be_shown_are_refused_all_the_same(store, options):
    """Regression: an error message quoting an int past Python's digit limit raised ValueError."""
    with pytest.raises(InvalidTask, match="must be") as refused:
        echo.using(backend=store, **options).enqueue()
    assert len(str(refused.value)) < 200
    assert job_count(store) == 0


def test_odd_but_valid_options_are_kept(store):
    run_after = dt.datetime(2199, 12, 31, tzinfo=dt.UTC)
    odd = {"priority": -100, "run_after": run_after, "timeout": dt.timedelta(microseconds=1)}
    text = str(decimal.Decimal("1.1"))
    result = echo.using(backend=store, max_attempts=10**6, **odd).enqueue(math.pi, text=text)
    record = store_of(store).broker.get(result.id)
    assert (record.priority, record.run_after, record.max_attempts) == (-100, run_after, 10**6)
    assert record.timeout_seconds == 1e-6
