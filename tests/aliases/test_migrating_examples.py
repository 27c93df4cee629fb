"""docs/migrating.md's worked examples, as a reader copies them into a project, run with a real worker.

Each "after" block starts with a ``# package/module.py`` comment (the
"before" blocks say ``# before: ...``): the blocks are written as files of
their package on ``sys.path``, imported, and their views called with a
request; the worker runs what they enqueued on the database backend.
"""

import importlib
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django
import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import RequestFactory
from django.utils import timezone

from backroom.compat import TaskResultStatus, task_finished
from backroom.models import Job
from backroom.retry import RetryPolicy
from backroom.testing import drain
from tests.support import stored_job

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"
#: Each example's package (Celery, django-background-tasks, Django-Q2), all made of these modules.
EXAMPLES = ("shop", "newsletter", "reports")
MODULES = ("tasks", "views")


def doc_files() -> dict[str, str]:
    """The doc's python blocks that start with a ``# package/module.py`` comment."""
    text = DOC.read_text()
    if django.VERSION < (6, 0):  # as the doc says: on Django 5.2 the API comes from django_tasks
        text = text.replace("django.tasks", "django_tasks")
    return dict(re.findall(r"```python\n# (\w+/\w+\.py)\n(.*?)```", text, re.DOTALL))


@pytest.fixture
def example(tmp_path, monkeypatch):
    """Write one example's files as a package and import its modules."""
    files = doc_files()
    written = set()

    def write(package: str):
        expected = {f"{package}/{module}.py" for module in MODULES}
        assert {name for name in files if name.startswith(f"{package}/")} == expected, (
            f"docs/migrating.md lost part of the {package} example"
        )
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        for name in expected:
            (tmp_path / name).write_text(files[name])
        written.add(package)
        monkeypatch.syspath_prepend(str(tmp_path))
        return [importlib.import_module(f"{package}.{module}") for module in MODULES]

    yield write
    for name in [name for name in sys.modules if name.split(".")[0] in written]:
        del sys.modules[name]


def post(path, user, **data):
    request = RequestFactory().post(path, data)
    request.user = user
    return request


def subjects():
    return [message.subject for message in mail.outbox]


def test_every_after_block_belongs_to_an_example():
    assert {name.split("/")[0] for name in doc_files()} == set(EXAMPLES)


@pytest.mark.django_db(transaction=True)
def test_the_celery_shop_sends_the_receipt_now_and_asks_for_a_review_a_day_later(example, run_worker):
    tasks, views = example("shop")
    assert (tasks.send_receipt.queue_name, tasks.send_receipt.max_attempts) == ("emails", 5)
    assert tasks.send_receipt.retry == RetryPolicy(
        backoff_seconds=2, max_backoff_seconds=300, retry_on=(ConnectionError,)
    )
    ada = User.objects.create_user("ada", "ada@example.com")

    response = views.checkout(post("/checkout/", ada, order="A-1001"))

    assert (response.status_code, response.content) == (200, b"Order A-1001 placed")
    assert subjects() == []  # nothing sent inside the request
    assert run_worker("default") == 0
    assert subjects() == ["Your receipt for order A-1001"]
    assert run_worker("default", clock=lambda: timezone.now() + timedelta(days=1, minutes=1)) == 0
    assert subjects() == ["Your receipt for order A-1001", "How was order A-1001?"]
    assert [message.to for message in mail.outbox] == [["ada@example.com"]] * 2


@pytest.mark.django_db(transaction=True)
def test_the_background_tasks_newsletter_confirms_a_minute_later_or_at_once(example, run_worker):
    tasks, views = example("newsletter")
    grace = User.objects.create_user("grace", "grace@example.com")

    before = timezone.now()
    response = views.subscribe(post("/subscribe/", grace))

    assert response.content == b"Check your inbox in a minute"
    job = stored_job("default", str(Job.objects.get().id))
    assert (job.task_path, job.queue_name) == ("newsletter.tasks.send_confirmation", "emails")
    assert before + timedelta(seconds=60) <= job.run_after <= timezone.now() + timedelta(seconds=60)
    assert run_worker("default") == 0
    assert subjects() == []  # not due yet
    assert run_worker("default", clock=lambda: timezone.now() + timedelta(seconds=61)) == 0
    assert subjects() == ["Confirm your subscription"]

    assert views.resend(post("/resend/", grace)).content == b"Sent again"
    assert subjects() == ["Confirm your subscription"] * 2  # sent in the request
    assert Job.objects.count() == 1  # without a job
    assert tasks.send_confirmation.get_result(job.id).status == TaskResultStatus.SUCCESSFUL


@pytest.mark.django_db(transaction=True)
def test_the_django_q_report_is_counted_by_a_worker_and_emailed_by_the_receiver(example):
    for name in ("one", "two", "earlier"):
        User.objects.create_user(name, f"{name}@example.com")
    User.objects.filter(username__in=["one", "two"]).update(date_joined=datetime(2026, 11, 5, tzinfo=UTC))
    User.objects.filter(username="earlier").update(date_joined=datetime(2026, 10, 31, tzinfo=UTC))
    staff = User.objects.create_user("staff", "staff@example.com", is_staff=True)
    tasks, views = example("reports")
    try:
        request = RequestFactory().get("/reports/", {"year": "2026", "month": "11"})
        request.user = staff
        with drain():
            response = views.request_report(request)
            assert response.status_code == 202
            result_id = json.loads(response.content)["id"]
            status = json.loads(views.report_status(request, result_id).content)
            assert status == {"status": "READY", "report": None}
        assert json.loads(views.report_status(request, result_id).content) == {
            "status": "SUCCESSFUL",
            "report": {"year": 2026, "month": 11, "signups": 2},
        }
        [message] = mail.outbox
        assert (message.subject, message.body, message.to) == (
            "Monthly sign-ups",
            "2 people signed up in 2026-11.",
            ["staff@example.com"],
        )
    finally:
        task_finished.disconnect(tasks.email_report)
