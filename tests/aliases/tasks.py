"""Tasks declared with django-background-tasks' decorator; workers import them by path like any task."""

import os

from backroom.contrib.background import background

from ..support import runs


@background
def note(label, using="default"):
    runs(using).create(label=label, pid=os.getpid())
    return label


@background(schedule=60, queue="emails")
def remind(label, using="default"):
    runs(using).create(label=label, pid=os.getpid())


@background(schedule={"run_at": 30, "priority": 7})
def urgent(label, using="default"):
    runs(using).create(label=label, pid=os.getpid())


@background
def greet(name, using="default"):
    """A parameter called ``name``: an argument of the function, not django-background-tasks' option."""
    runs(using).create(label=f"hello {name}", pid=os.getpid())
