"""Caps on open event streams (503 with Retry-After past one), and token expiry (404, or an end event)."""

import time
from datetime import timedelta

import pytest
from django.core import checks, signing

from backroom import status_token
from backroom.status import views
from backroom.status.tokens import SALT
from tests import tasks
from tests.support import delete_job

pytestmark = pytest.mark.urls("tests.status.urls")


def _open(client, token):
    return client.get(f"/status/{token}/events/")


@pytest.fixture
def streams():
    """Responses the test opens; each is closed at the end, and no stream may stay counted."""
    opened = []
    yield opened
    for response in opened:
        response.close()
    assert views.SLOTS.open == 0


def test_a_result_gets_two_streams_then_503_with_retry_after(store, client, streams):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    other = tasks.add.using(backend=store).enqueue(3, 4)
    # Tokens of the same result count together, whatever they allow or when they were signed.
    tokens = [status_token(result), status_token(result, expose_return_value=True), status_token(result)]
    first, second = (_open(client, token) for token in tokens[:2])
    streams += [first, second]
    assert (first.status_code, second.status_code) == (200, 200)
    refused = _open(client, tokens[2])
    assert refused.status_code == 503
    assert refused["Retry-After"] == "5" and refused["Cache-Control"] == "no-store"
    assert b"streams of this task are open already" in refused.content
    streams.append(_open(client, status_token(other)))
    assert streams[-1].status_code == 200  # another result is not affected
    first.close()  # a closed stream gives its place back
    streams.append(_open(client, tokens[2]))
    assert streams[-1].status_code == 200


def test_past_the_global_cap_every_new_stream_is_503(store, client, settings, streams):
    settings.BACKROOM = {**settings.BACKROOM, "STATUS_STREAMS_MAX": 3}
    results = [tasks.add.using(backend=store).enqueue(i, i) for i in range(4)]
    for result in results[:3]:
        streams.append(_open(client, status_token(result)))
        assert streams[-1].status_code == 200
    refused = _open(client, status_token(results[3]))
    assert refused.status_code == 503 and refused["Retry-After"] == "5"
    assert b"3 status streams are open" in refused.content
    assert client.get(f"/status/{status_token(results[3])}/").status_code == 200  # JSON is not capped


def test_streams_give_their_place_back_however_they_end(store, client, run_worker, streams):
    finished = tasks.add.using(backend=store).enqueue(1, 1)
    gone = tasks.add.using(backend=store).enqueue(2, 2)
    assert run_worker(store) == 0
    delete_job(store, gone.id)
    body = b"".join(_open(client, status_token(finished)).streaming_content)  # runs to its end event
    assert b"event: end" in body
    assert _open(client, status_token(gone)).status_code == 404  # read at open: nothing to stream
    assert client.get("/status/forged/events/").status_code == 404
    assert views.SLOTS.open == 0
    never_read = _open(client, status_token(finished))  # closed by the server without being read
    assert views.SLOTS.open == 1
    never_read.close()
    assert views.SLOTS.open == 0


def _signed_ago(seconds: float, result) -> str:
    """A status token as status_token would have made it ``seconds`` ago."""

    class Past(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time() - seconds))

    return Past(salt=SALT).sign_object({"id": result.id, "backend": result.backend})


@pytest.mark.parametrize("max_age", [60, 60.0, timedelta(minutes=1)])
def test_tokens_older_than_the_max_age_are_404(store, client, settings, max_age):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    old, young = _signed_ago(3600, result), _signed_ago(30, result)
    assert client.get(f"/status/{old}/").status_code == 200  # no expiry by default
    settings.BACKROOM = {**settings.BACKROOM, "STATUS_TOKEN_MAX_AGE": max_age}
    for view in ("", "events/"):
        assert client.get(f"/status/{old}/{view}").status_code == 404
    assert client.get(f"/status/{young}/").status_code == 200
    young_stream = client.get(f"/status/{young}/events/")
    assert young_stream.status_code == 200
    young_stream.close()


def test_a_stream_ends_when_its_token_expires(store, client, settings, streams):
    result = tasks.add.using(backend=store).enqueue(1, 2)
    response = _open(client, _signed_ago(3600, result))
    streams.append(response)
    content = iter(response.streaming_content)
    assert next(content).startswith(b"retry: ") and next(content).startswith(b"event: status")
    settings.BACKROOM = {**settings.BACKROOM, "STATUS_TOKEN_MAX_AGE": 600}  # checked at every read
    assert next(content) == b'event: end\ndata: {"reason":"expired"}\n\n'
    assert list(content) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key, value",
    [
        ("STATUS_STREAMS_MAX", 0),
        ("STATUS_STREAMS_MAX", "100"),
        ("STATUS_STREAMS_PER_TOKEN", -1),
        ("STATUS_STREAMS_PER_TOKEN", 2.5),
        ("STATUS_TOKEN_MAX_AGE", 0),
        ("STATUS_TOKEN_MAX_AGE", float("nan")),
        ("STATUS_TOKEN_MAX_AGE", "1 day"),
    ],
)
def test_bad_status_settings_are_system_check_errors(settings, key, value):
    settings.BACKROOM = {**settings.BACKROOM, key: value}
    errors = [m.msg for m in checks.run_checks() if m.id == "backroom.E202"]
    assert len(errors) == 1 and f"[{key!r}]" in errors[0], errors
