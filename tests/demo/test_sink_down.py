"""The SMTP sink down: the email fails, the page shows the retry, and it goes once the sink is back."""

import json
import re
import urllib.request

from playwright.sync_api import expect

from .conftest import sign_up

RETRYING = re.compile(r"failed, retrying at \d\d:\d\d:\d\d$")


def test_email_retries_until_the_sink_is_back(start_demo, page):
    demo = start_demo("--no-sink").wait_ready()
    email = sign_up(page, demo.url("/"), "retry")

    page.locator("#timeline li", has_text=RETRYING).first.wait_for(timeout=30_000)
    demo.start_sink(delay=0.1)
    expect(page.locator("#email-status")).to_have_text("sent", timeout=60_000)

    assert len(demo.received_by(email)) == 1
    events_url = page.get_attribute("#email-status", "data-events")
    with urllib.request.urlopen(demo.url(events_url.removesuffix("events/")), timeout=10) as response:
        job = json.load(response)
    assert job["status"] == "SUCCESSFUL"
    assert job["attempts"] >= 2
