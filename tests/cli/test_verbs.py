"""``manage.py backroom`` on the command line: one line per mistake, exit codes, version, help."""

import argparse
import importlib.metadata
import socket
import subprocess
import sys

import django
import pytest
from django.core.management import execute_from_command_line

from backroom.management.commands.backroom import Command
from tests.support import ROOT, subprocess_env

BAD_OPTIONS = [
    (["worker", "--backend", "nope"], 1, "TASKS has no backend 'nope'"),
    (["worker", "--backend", "other"], 1, "TASKS['other'] uses DummyBackend, not a backroom backend"),
    (["worker", "--queue", "nope"], 1, "Unknown queue(s) nope"),
    (["worker", "--concurrency", "0"], 2, "argument --concurrency/-c: must be at least 1, not 0"),
    (["worker", "--prefetch", "many"], 2, "argument --prefetch: 'many' is not a whole number"),
    (["worker", "--poll-interval", "-1"], 2, "argument --poll-interval: must be a number above 0, not -1"),
    (["worker", "--grace", "inf"], 2, "argument --grace: must be a number at least 0, not inf"),
    (["worker", "--metrics-port", "70000"], 2, "argument --metrics-port: must be at most 65535, not 70000"),
    (["worker", "--processes", "2", "--burst"], 1, "cannot be combined with --processes"),
    (
        ["worker", "--metrics-port", "0", "--metrics-host", "256.0.0.1"],
        1,
        "Cannot serve metrics on 256.0.0.1:0",
    ),
    (["status", "--backend", "nope"], 1, "TASKS['nope'] is not a backroom backend"),
    (["retry"], 1, "Name job ids, or a task with --failed-of"),
    (["retry", "--backend", "nope", "some-id"], 1, "TASKS has no backend 'nope'"),
    (["cancel"], 2, "the following arguments are required: JOB_ID"),
    (["cancel", "--backend", "nope", "some-id"], 1, "TASKS has no backend 'nope'"),
    (["pause"], 2, "the following arguments are required: QUEUE"),
    (["pause", "nope"], 1, "Unknown queue(s) nope"),
    (["pause", "bad name"], 1, "Queue name(s) 'bad name' must be 1 to 64 letters"),
    (["resume", "--backend", "nope", "emails"], 1, "TASKS has no backend 'nope'"),
    (["prune", "--batch-size", "0"], 2, "argument --batch-size: must be at least 1, not 0"),
    (["prune", "--failed-days", "nan"], 2, "argument --failed-days: must be a number above 0, not nan"),
    (["scheduler", "--backend", "nope"], 1, "TASKS has no backend 'nope'"),
    (["schedules", "--all"], 2, "unrecognized arguments: --all"),
]


@pytest.mark.parametrize(
    ("args", "code", "message"), BAD_OPTIONS, ids=[" ".join(a) for a, _, _ in BAD_OPTIONS]
)
def test_a_bad_option_is_one_line_on_stderr(args, code, message, capsys, settings):
    settings.TASKS = {
        "default": {**settings.TASKS["default"], "QUEUES": ["default", "emails"]},
        "other": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"},
    }
    with pytest.raises(SystemExit) as exit_:
        # Without the system checks, which this test is not about and which would open every database.
        execute_from_command_line(["manage.py", "backroom", "--skip-checks", *args])
    out, err = capsys.readouterr()
    assert exit_.value.code == code
    assert out == ""
    assert len(err.splitlines()) == 1 and message in err, err


def test_a_metrics_port_in_use_is_one_line(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        with pytest.raises(SystemExit) as exit_:
            execute_from_command_line(
                ["manage.py", "backroom", "--skip-checks", "worker", "--metrics-port", port]
            )
    assert exit_.value.code == 1
    assert (
        capsys.readouterr().err
        == f"CommandError: Cannot serve metrics on 127.0.0.1:{port}: Address already in use.\n"
    )


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_verb_that_fails_says_why_without_a_command_error_line():
    result = subprocess.run(
        [sys.executable, "-m", "django", "backroom", "cancel", "01234567-89ab-7def-8123-456789abcdef"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr == "not cancelled 01234567-89ab-7def-8123-456789abcdef: no such job\n"


def test_version_is_backrooms(capsys):
    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(["manage.py", "backroom", "--version"])
    assert exit_.value.code == 0
    version = importlib.metadata.version("django-backroom")
    assert capsys.readouterr().out == f"backroom {version} (Django {django.get_version()})\n"


def test_every_option_says_what_it_does_without_the_docs():
    parser = Command().create_parser("manage.py", "backroom")
    [verbs] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(verbs.choices) >= {
        "worker",
        "status",
        "retry",
        "cancel",
        "prune",
        "scheduler",
        "schedules",
        "pause",
        "resume",
    }
    for name, verb in verbs.choices.items():
        assert verb.description and "docs/" not in verb.description, name
        for action in verb._actions:
            assert action.help and "docs/" not in action.help, (name, action.option_strings or action.dest)
