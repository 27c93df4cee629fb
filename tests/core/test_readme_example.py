"""The README's "Using it" code, copied into a project as a reader would, works on every Django.

Its ``myapp/tasks.py`` and ``myapp/views.py`` blocks are written as files of a
package ``myapp`` on ``sys.path``, imported as Django imports them, and the
view is called with a request: the user is created, the email waits in the
store, a worker sends it.
"""

import re
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import RequestFactory

from backroom.compat import TaskResultStatus, task_enqueued

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_files() -> dict[str, str]:
    """The README's python blocks that start with a ``# path`` comment naming a file of ``myapp``."""
    blocks = re.findall(r"```python\n# (myapp/\S+\.py)\n(.*?)```", README.read_text(), re.DOTALL)
    return dict(blocks)


@pytest.fixture
def myapp(tmp_path, monkeypatch):
    files = readme_files()
    assert set(files) == {"myapp/tasks.py", "myapp/views.py"}, "README.md lost part of its example"
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [name for name in sys.modules if name == "myapp" or name.startswith("myapp.")]:
        del sys.modules[name]


@pytest.mark.django_db(transaction=True)
def test_the_readme_example_registers_a_user_and_a_worker_sends_the_email(myapp, run_worker):
    from myapp import tasks, views

    assert (tasks.send_welcome_email.queue_name, tasks.send_welcome_email.max_attempts) == ("emails", 5)
    request = RequestFactory().post("/register/", {"username": "ada", "email": "ada@example.com"})

    enqueued = []

    def keep(sender, task_result, **kwargs):
        enqueued.append(task_result)

    task_enqueued.connect(keep)
    try:
        response = views.register_user(request)
    finally:
        task_enqueued.disconnect(keep)

    assert (response.status_code, response.content) == (200, b"User registered")
    assert User.objects.filter(username="ada", email="ada@example.com").exists()
    [result] = enqueued
    assert (result.status, mail.outbox) == (TaskResultStatus.READY, [])  # waiting, not sent in the request
    assert run_worker("default", queues=["emails"]) == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
