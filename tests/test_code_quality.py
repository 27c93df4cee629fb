"""The code stays linted, formatted, typed, and free of pickle and eval."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .support import ROOT, subprocess_env

PACKAGE = ROOT / "backroom"


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=subprocess_env(BACKROOM_TEST_POSTGRES="0"),
    )


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",)],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_passes(command):
    result = _run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


FORBIDDEN = re.compile(
    r"\b(pickle|cPickle|marshal|shelve|dill|jsonpickle)\b|\beval\(|\bexec\(|\b__import__\("
    r"|\byaml\.(unsafe_)?load\(|\bos\.system\(|shell=True"
)
#: The only modules that import by a name read from data: task paths and retry_on exception classes.
DYNAMIC_IMPORTS = re.compile(r"\b(import_string|import_module)\(")
DYNAMIC_IMPORT_ALLOWED = {
    "backroom/task.py",
    "backroom/retry.py",
    # A name from settings (BACKROOM["REDACT"]), not from stored data:
    "backroom/redaction.py",
    # These import modules of backroom's own, named in code, not in data:
    "backroom/management/commands/backroom.py",
    "backroom/__init__.py",
    "backroom/backends/__init__.py",
}


def test_no_pickle_or_eval_in_the_package():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert offenders == []


def test_forbidden_pattern_catches_what_it_should():
    for line in [
        "import pickle", "pickle.loads(data)", "eval(text)", "exec(code)", "__import__(name)",
        "yaml.load(text)", "os.system(command)", "subprocess.run(command, shell=True)",
    ]:  # fmt: skip
        assert FORBIDDEN.search(line), line
    assert not FORBIDDEN.search("evaluation = 1")


def test_names_are_imported_from_data_in_known_places_only():
    """A stored path is imported by load_task (which refuses anything but a Task) and RetryPolicy only."""
    importers = {
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if DYNAMIC_IMPORTS.search(path.read_text())
    }
    assert importers <= DYNAMIC_IMPORT_ALLOWED
    assert "backroom/task.py" in importers


def test_package_ships_type_information():
    assert (PACKAGE / "py.typed").exists()
    assert Path(PACKAGE / "py.typed").read_text() == ""


#: A driver's errors, or Django's database errors: only the brokers may catch them.
STORE_ERRORS = re.compile(
    r"^\s*(from|import) (psycopg|redis|MySQLdb|sqlite3)\b|^\s*from django\.db(\.utils)? import .*Error"
)


def test_only_the_brokers_see_a_drivers_errors():
    """Above the brokers, an outage is StoreUnavailable and a missing table StoreNotReady, on every store."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "brokers" not in path.relative_to(PACKAGE).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STORE_ERRORS.search(line)
    ]
    assert offenders == []
    assert STORE_ERRORS.search("from django.db import DatabaseError, connections")
    assert STORE_ERRORS.search("import redis.exceptions")
    assert not STORE_ERRORS.search("from django.db import connections, router")
