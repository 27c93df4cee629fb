"""The case "I forgot to start the worker", in a real browser: the page says so, a worker started
by hand sends the email, and the printed staff login opens the dashboard that shows that worker."""

import os
import re
import shlex
import subprocess
import sys

from playwright.sync_api import expect

from tests.support import wait_until

from .conftest import EXAMPLE, sign_up

NO_WORKER = "waiting for a worker, none is running"


def _printed(pattern: str, output: str) -> tuple[str, ...]:
    match = re.search(pattern, output, re.MULTILINE)
    assert match, output
    return match.groups()


def _start_worker_as_printed(command: str) -> subprocess.Popen[bytes]:
    """Run the printed command in a clean environment: ``./dev manage`` is the demo's manage.py."""
    *assignments, dev, manage, verb, subcommand = shlex.split(command)
    assert (dev, manage, verb, subcommand) == ("./dev", "manage", "backroom", "worker"), command
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BACKROOM_TEST", "DEMO_"))}
    env.update(assignment.split("=", 1) for assignment in assignments)
    command = [sys.executable, str(EXAMPLE / "manage.py"), verb, subcommand]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def test_no_worker_then_a_worker_then_the_dashboard(start_demo, page):
    demo = start_demo("--no-worker").wait_ready()
    output = demo.output()
    username, password = _printed(r"^  staff login +user (\S+), password (\S+)$", output)
    (command,) = _printed(r"^  worker +not started \(--no-worker\); start one with (.+)$", output)

    email = sign_up(page, demo.url("/"), "no-worker")
    page.evaluate("window.sameDocument = true")  # lost if the page reloads
    expect(page.locator("#email-status")).to_have_text(NO_WORKER)

    worker = _start_worker_as_printed(command)
    try:
        expect(page.locator("#email-status")).to_have_text("sent", timeout=30_000)
        assert page.evaluate("window.sameDocument") is True
        timeline = page.locator("#timeline li").all_inner_texts()
        assert timeline[0].endswith(f" {NO_WORKER}"), timeline
        assert timeline[-1].endswith(" sent"), timeline
        wait_until(lambda: demo.received_by(email), timeout=10, what="the sink to have the message")

        page.goto(demo.url("/backroom/"))
        assert "/admin/login/" in page.url  # staff only
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r"/backroom/$"))
        expect(page.locator("main")).to_contain_text("1 live worker")
        page.goto(demo.url("/backroom/workers/"))
        workers = page.locator("#workers")
        expect(workers).to_contain_text(str(worker.pid))
        expect(workers).to_contain_text("live")
        page.goto(demo.url("/admin/"))
        expect(page.locator("#site-name")).to_be_visible()  # the admin's index, already logged in
        assert "/admin/login/" not in page.url
    finally:
        worker.terminate()
        worker.wait(40)
