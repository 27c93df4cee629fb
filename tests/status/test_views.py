"""The status endpoint over HTTP: JSON and SSE, 404 for anything but a valid token."""

import asyncio
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core import signing
from django.db import connections
from django.test import AsyncClient
from django.utils import timezone

from backroom import RetryPolicy, status_token
from backroom.status.tokens import SALT
from tests import tasks
from tests.support import delete_job

pytestmark = pytest.mark.urls("tests.status.urls")


def _events(body: bytes) -> list[tuple[str, object]]:
    """Parse an SSE body into (event, data) pairs, leaving out comments and the retry field."""
    parsed = []
    for block in body.decode().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith((":", "retry"))
        )
        if "event" in fields:
            parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


def test_json_shows_status_and_attempts_but_not_the_return_value(store, client, run_worker):
    result = tasks.add.using(backend=store).enqueue(2, 3)
    token = status_token(result)
    response = client.get(f"/status/{token}/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    ready = response.json()
    assert (ready["status"], ready["finished"], ready["attempts"], ready["retry_at"]) == (
        "READY",
        False,
        0,
        None,
    )

    assert run_worker(store) == 0
    done = client.get(f"/status/{token}/").json()
    assert (done["status"], done["finished"], done["attempts"]) == ("SUCCESSFUL", True, 1)
    assert done["finished_at"] is not None
    assert "return_value" not in done


def test_return_value_only_with_a_token_that_allows_it(store, client, run_worker):
    result = tasks.add.using(backend=store).enqueue(2, 3)
    token = status_token(result, expose_return_value=True)
    assert "return_value" not in client.get(f"/status/{token}/").json()  # not before it succeeded
    assert run_worker(store) == 0
    assert client.get(f"/status/{token}/").json()["return_value"] == 5


def test_retry_at_while_a_failed_attempt_waits(store, client, run_worker):
    policy = RetryPolicy(backoff_seconds=600, jitter=0)
    result = tasks.always_fail.using(backend=store, max_attempts=2, retry=policy).enqueue("down")
    assert run_worker(store) == 0
    payload = client.get(f"/status/{status_token(result)}/").json()
    assert (payload["status"], payload["attempts"], payload["finished"]) == ("READY", 1, False)
    retry_at = timezone.datetime.fromisoformat(payload["retry_at"])
    assert timedelta(seconds=590) < retry_at - timezone.now() <= timedelta(seconds=600)
    assert "errors" not in payload and "traceback" not in json.dumps(payload)


@pytest.mark.parametrize("view", ["", "events/"])
def test_bad_tokens_get_404(store, client, view):
    result = tasks.add.using(backend=store).enqueue(1, 1)
    token = status_token(result)
    other_id = str(uuid.uuid4())
    forged = [
        "garbage",
        token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),  # altered signature
        token.replace(
            token.split(":")[0], signing.dumps({"id": other_id, "backend": store}, salt=SALT).split(":")[0]
        ),
        signing.dumps({"id": result.id, "backend": "no-such-backend"}, salt=SALT),
        signing.dumps({"id": other_id, "backend": store}, salt=SALT),  # valid, but no such result
    ]
    for bad in forged:
        response = client.get(f"/status/{bad}/{view}")
        assert response.status_code == 404, bad
    assert client.get(f"/status/{token}/{view}").status_code == 200


def test_a_token_reads_its_own_result_only(store, client, run_worker):
    mine = tasks.add.using(backend=store).enqueue(1, 1)
    assert run_worker(store) == 0
    theirs = tasks.add.using(backend=store).enqueue(2, 2)
    assert client.get(f"/status/{status_token(mine)}/").json()["status"] == "SUCCESSFUL"
    assert client.get(f"/status/{status_token(theirs)}/").json()["status"] == "READY"


def test_a_deleted_result_is_404(store, client):
    result = tasks.add.using(backend=store).enqueue(1, 1)
    delete_job(store, result.id)
    assert client.get(f"/status/{status_token(result)}/").status_code == 404


def test_stream_of_a_finished_task_ends(store, client, run_worker):
    result = tasks.add.using(backend=store).enqueue(2, 3)
    assert run_worker(store) == 0
    response = client.get(f"/status/{status_token(result, expose_return_value=True)}/events/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-store"
    started = time.monotonic()
    body = b"".join(response.streaming_content)  # returns only because the stream ends
    assert time.monotonic() - started < 5
    assert body.startswith(b"retry: ")
    events = _events(body)
    assert [name for name, _ in events] == ["status", "end"]
    assert events[0][1]["status"] == "SUCCESSFUL" and events[0][1]["return_value"] == 5
    assert events[1][1] == {"reason": "finished"}


def test_stream_under_asgi_is_asynchronous_and_ends(store, run_worker):
    result = tasks.add.using(backend=store).enqueue(2, 3)
    assert run_worker(store) == 0

    async def read_stream():
        response = await AsyncClient().get(f"/status/{status_token(result)}/events/")
        assert response.status_code == 200
        # An async iterator: Django would otherwise read a blocking one to its end before sending.
        assert response.is_async
        body = b"".join([chunk async for chunk in response.streaming_content])
        await sync_to_async(connections.close_all)()  # the connections of the thread that read the job
        return body

    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        body = thread.submit(asyncio.run, read_stream()).result(timeout=60)
    assert [name for name, _ in _events(body)] == ["status", "end"]
