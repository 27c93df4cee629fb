"""BACKROOM["REDACT"]: the dashboard, the admin and the status endpoint show a job only as redacted."""

from dataclasses import replace

import pytest
from django.contrib.auth.models import User
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from backroom import status_token
from backroom.jobs.records import JobRecord
from tests import tasks

from .states import drain, failed_job

SECRET = "s3cret-alice@example.com"
HIDDEN = "[redacted]"


def hide_secrets(job: JobRecord) -> dict:
    """A redactor as a project would write one: keep the shape, hide the values."""
    return {
        "args": [HIDDEN] * len(job.args),
        "kwargs": dict.fromkeys(job.kwargs, HIDDEN),
        "return_value": None if job.return_value is None else HIDDEN,
        "progress": None if job.progress is None else {"message": HIDDEN},
        "errors": [replace(error, traceback=HIDDEN) for error in job.errors],
        "unique_key": None if job.unique_key is None else HIDDEN,
    }


def returns_a_list(job: JobRecord) -> list:
    return [HIDDEN]


def replaces_the_status(job: JobRecord) -> dict:
    return {"status": "SUCCESSFUL"}


@pytest.fixture
def redacted(settings):
    settings.BACKROOM = {**settings.BACKROOM, "REDACT": f"{__name__}.hide_secrets"}


def _jobs(store: str) -> tuple[str, str]:
    """A successful job with the secret in its arguments, progress, return value and unique key,
    and a failed one with it in its traceback."""
    done = tasks.leaky.using(backend=store, unique_key=f"mail:{SECRET}").enqueue(SECRET, token=SECRET)
    drain(store)
    return done.id, failed_job(store, message=SECRET)


def test_by_default_everything_is_shown(store, viewer):
    done, failed = _jobs(store)
    for job_id in (done, failed):
        page = viewer.get(f"/backroom/jobs/{job_id}/?backend={store}").content.decode()
        assert SECRET in page


def test_the_dashboard_shows_jobs_redacted(store, viewer, redacted):
    done, failed = _jobs(store)
    for job_id in (done, failed):
        response = viewer.get(f"/backroom/jobs/{job_id}/?backend={store}")
        assert response.status_code == 200
        page = response.content.decode()
        assert SECRET not in page and HIDDEN in page
    assert SECRET not in viewer.get(f"/backroom/jobs/?backend={store}").content.decode()
    assert SECRET not in viewer.get(f"/backroom/?backend={store}").content.decode()


def test_the_status_endpoint_shows_jobs_redacted(store, client, redacted):
    result = tasks.leaky.using(backend=store).enqueue(SECRET, token=SECRET)
    drain(store)
    response = client.get(f"/status/{status_token(result, expose_return_value=True)}/")
    assert response.status_code == 200
    payload = response.json()
    assert (payload["status"], payload["return_value"], payload["progress"]) == (
        "SUCCESSFUL",
        HIDDEN,
        {"message": HIDDEN},
    )
    events = client.get(f"/status/{status_token(result, expose_return_value=True)}/events/")
    body = b"".join(events.streaming_content).decode()
    assert SECRET not in body and HIDDEN in body


@pytest.mark.django_db(transaction=True)
def test_the_admin_shows_jobs_redacted(operator, settings):
    done, failed = _jobs("default")
    for redacting in (False, True):
        if redacting:
            settings.BACKROOM = {**settings.BACKROOM, "REDACT": f"{__name__}.hide_secrets"}
        listing = operator.get("/admin/backroom/job/")
        assert listing.status_code == 200 and done in listing.content.decode()
        assert SECRET not in listing.content.decode()  # the list never shows what may hold secrets
        for job_id in (done, failed):
            detail = operator.get(f"/admin/backroom/job/{job_id}/change/").content.decode()
            assert (SECRET in detail) is not redacting, job_id
            assert (HIDDEN in detail) is redacting


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value, message",
    [
        ("tests.dashboard.test_redaction.no_such_function", "cannot be imported"),
        ("no.such.module", "cannot be imported"),
        (42, "must be a function (or its dotted path), not 42"),
    ],
)
def test_an_unusable_redact_setting_is_a_system_check_error(settings, value, message):
    settings.BACKROOM = {**settings.BACKROOM, "REDACT": value}
    errors = [m for m in checks.run_checks() if m.id == "backroom.E201"]
    assert len(errors) == 1 and message in errors[0].msg, errors


@pytest.mark.parametrize("redactor", ["returns_a_list", "replaces_the_status"])
def test_a_redactor_that_returns_nonsense_fails_closed(store, settings, redactor):
    failed = failed_job(store, message=SECRET)
    settings.BACKROOM = {**settings.BACKROOM, "REDACT": f"{__name__}.{redactor}"}
    root = User.objects.create_superuser("root", password="pw")
    client = Client(raise_request_exception=True)
    client.force_login(root)
    with pytest.raises(ImproperlyConfigured, match="REDACT"):
        client.get(f"/backroom/jobs/{failed}/?backend={store}")
