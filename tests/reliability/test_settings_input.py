"""Invalid settings and retry policies, tried systematically: each a clear error naming what is wrong."""

from datetime import timedelta

import pytest
from django.core import checks
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from backroom import RetryPolicy
from backroom.conf import read_settings

not_a_number = (
    st.text() | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(), st.integers(), max_size=1)
)
bad_positive_number = (
    st.integers(max_value=0)
    | st.floats(max_value=0)
    | st.just(float("nan"))
    | st.just(float("inf"))
    | st.booleans()
    | not_a_number
)
bad_positive_int = st.integers(max_value=0) | st.floats() | st.booleans() | not_a_number
BAD_VALUES = {
    "DATABASE": st.just("") | st.integers() | st.none() | st.lists(st.text(), max_size=1),
    "MAX_ATTEMPTS": bad_positive_int | st.none(),
    "MAX_ARGUMENTS_BYTES": bad_positive_int | st.none(),
    "RETRY": st.none() | st.integers() | st.text() | st.dictionaries(st.text(), st.integers(), max_size=1),
    "TIMEOUT": bad_positive_number,
    "POLL_INTERVAL_SECONDS": bad_positive_number,
    "LEASE_SECONDS": bad_positive_number | st.none(),
    "HEARTBEAT_SECONDS": bad_positive_number | st.none(),
    "SHUTDOWN_GRACE_SECONDS": bad_positive_number | st.none(),
}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_bad_option_is_an_error_naming_it(data):
    key = data.draw(st.sampled_from(sorted(BAD_VALUES)), label="key")
    value = data.draw(BAD_VALUES[key], label="value")
    config, errors = read_settings("default", {key: value})
    assert any(f"[{key!r}]" in error for error in errors), errors
    assert config == read_settings("default", {})[0], "a bad option falls back to its default"


@pytest.mark.django_db
@pytest.mark.parametrize("options", [["MAX_ATTEMPTS", 3], "MAX_ATTEMPTS=3", 3])
def test_options_that_are_not_a_dict_are_a_system_check_error(settings, options):
    settings.TASKS = {"default": {"BACKEND": "backroom.backends.DatabaseBackend", "OPTIONS": options}}
    messages = [m.msg for m in checks.run_checks() if m.id and m.id.startswith("backroom.")]
    assert any("['OPTIONS'] must be a dict" in m for m in messages), messages


@pytest.mark.django_db
def test_each_bad_option_is_reported_by_manage_py_check(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "backroom.backends.DatabaseBackend",
            "OPTIONS": {key: "nonsense" for key in BAD_VALUES},
        }
    }
    messages = [m.msg for m in checks.run_checks() if m.id and m.id.startswith("backroom.")]
    for key in BAD_VALUES:
        assert sum(f"[{key!r}]" in m for m in messages) == 1, (key, messages)


finite_or_not = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**30), 10**30)


@settings(max_examples=300, deadline=None)
@given(
    backoff=finite_or_not,
    factor=finite_or_not,
    cap=finite_or_not,
    jitter=finite_or_not,
    attempt=st.integers(1, 10**6),
    rand=st.floats(0, 1),
)
def test_retry_policy_is_refused_or_gives_a_usable_delay(backoff, factor, cap, jitter, attempt, rand):
    try:
        policy = RetryPolicy(backoff_seconds=backoff, factor=factor, max_backoff_seconds=cap, jitter=jitter)
    except ValueError as exc:
        assert "RetryPolicy" in str(exc)
        return
    delay = policy.delay_for(attempt, ValueError("x"), rand=lambda: rand)
    assert delay is not None
    assert timedelta(0) <= delay <= timedelta(seconds=policy.max_backoff_seconds)
    timezone.now() + delay  # a date a job can be stored with
    assert RetryPolicy.from_json(policy.to_json()) == policy
