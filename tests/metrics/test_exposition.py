"""``/backroom/metrics``: Prometheus text whose numbers are the store's."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests import tasks
from tests.dashboard.states import claim_one, failed_job, register_worker


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse exposition text (failing on anything malformed) into {(name, labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found, name: str, **labels: str) -> float:
    return found[name, tuple(sorted(labels.items()))]


def test_metrics_match_the_store(store, viewer):
    failed_job(store)
    failed_job(store)
    register_worker(store, "w-live", ["default"])
    register_worker(store, "w-stale", [], heartbeat_at=timezone.now() - timedelta(minutes=10))
    claim_one(store, "w-live")
    oldest = tasks.noop.using(backend=store).enqueue()
    for _ in range(2):
        tasks.noop.using(backend=store).enqueue()
    tasks.noop.using(backend=store, run_after=timezone.now() + timedelta(hours=1)).enqueue()
    tasks.in_emails_queue.using(backend=store).enqueue("x", store)

    response = viewer.get("/backroom/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = samples(response.content.decode())

    for queue, expected in [
        ("default", {"ready": 3, "scheduled": 1, "running": 1, "failed": 2}),
        ("emails", {"ready": 1, "scheduled": 0, "running": 0, "failed": 0}),
    ]:
        shown = {s: value(found, "backroom_jobs", backend=store, queue=queue, status=s) for s in expected}
        assert shown == expected, queue
    assert value(found, "backroom_workers", backend=store, state="live") == 1
    assert value(found, "backroom_workers", backend=store, state="stale") == 1
    assert value(found, "backroom_queue_unserved", backend=store, queue="emails") == 1
    assert value(found, "backroom_queue_unserved", backend=store, queue="default") == 0
    age = value(found, "backroom_oldest_ready_job_age_seconds", backend=store, queue="default")
    assert 0 < age <= (timezone.now() - oldest.enqueued_at).total_seconds()


@pytest.fixture
def token(settings):
    settings.BACKROOM = {"METRICS_TOKEN": "s3cret-token"}
    return "s3cret-token"


@pytest.mark.django_db(databases="__all__")
def test_a_bearer_token_opens_metrics(client, token):
    assert client.get("/backroom/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert client.get("/backroom/metrics", HTTP_AUTHORIZATION=f"bearer {token}").status_code == 200


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "Bearer ", "Basic czNjcmV0LXRva2Vu", "s3cret-token"]
)
def test_anything_else_is_refused(client, token, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get("/backroom/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="backroom"'
    assert b"backroom_jobs" not in response.content


@pytest.mark.django_db(databases="__all__")
def test_without_a_configured_token_no_bearer_gets_in(client):
    assert client.get("/backroom/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get("/backroom/metrics", HTTP_AUTHORIZATION="Bearer None").status_code == 401


def test_non_staff_sessions_are_refused(outsider):
    assert outsider.get("/backroom/metrics").status_code == 403


def test_staff_who_may_not_view_jobs_are_refused(staff):
    assert staff.get("/backroom/metrics").status_code == 403


def test_metrics_are_read_only(viewer):
    assert viewer.post("/backroom/metrics").status_code == 405


@pytest.mark.django_db(databases="__all__")
def test_staff_session_reads_metrics_without_a_token(admin_user):
    client = Client()
    client.force_login(admin_user)
    assert client.get("/backroom/metrics").status_code == 200
