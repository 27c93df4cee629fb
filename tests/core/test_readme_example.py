"""The README's first example, as a reader copies it, works on every Django backroom supports."""

import re
import sys
import types
from pathlib import Path

import pytest
from django.core import mail

from backroom.compat import TaskResultStatus
from tests.support import stored_job

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_tasks_module() -> types.ModuleType:
    """The README's ``myapp/tasks.py`` lines, run as an importable module (the worker imports it by path)."""
    text = README.read_text()
    found = re.search(r"# myapp/tasks\.py\n(.*?)\n# myapp/views\.py", text, re.DOTALL)
    assert found, "README.md lost its myapp/tasks.py example"
    module = types.ModuleType("tests.core.readme_tasks")
    sys.modules[module.__name__] = module
    exec(compile(found.group(1), str(README), "exec"), module.__dict__)
    return module


@pytest.fixture
def readme_tasks():
    module = readme_tasks_module()
    yield module
    del sys.modules[module.__name__]


@pytest.mark.django_db(transaction=True)
def test_the_readme_example_sends_its_email_through_a_worker(readme_tasks, run_worker):
    task = readme_tasks.send_welcome_email
    assert (task.queue_name, task.max_attempts, task.timeout) == ("emails", 5, 30)

    result = task.enqueue("ada@example.com")
    job = stored_job("default", result.id)
    assert (job.queue_name, job.max_attempts) == ("emails", 5)

    assert run_worker("default", queues=["emails"]) == 0
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
