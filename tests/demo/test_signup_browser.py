"""The scenario in a real browser: sign up, "User registered" at once, then "sent" without a reload."""

import re

from playwright.sync_api import expect

from tests.support import ROOT, wait_until

from .conftest import sign_up

ARTIFACTS = ROOT / "test-artifacts"
SINK_DELAY_MS = 1500  # the sink's default
MILLISECONDS = re.compile(r"^(\d+\.\d) ms$")


def _milliseconds(page, selector: str) -> float:
    match = MILLISECONDS.match(page.inner_text(selector))
    assert match, page.inner_text(selector)
    return float(match.group(1))


def test_signup_shows_the_welcome_email_sent_live(demo, page):
    email = sign_up(page, demo.url("/"), "live")
    page.evaluate("window.sameDocument = true")  # lost if the page reloads

    expect(page.locator("#email-status")).to_have_text("sent", timeout=30_000)
    assert page.evaluate("window.sameDocument") is True
    timeline = page.locator("#timeline li").all_inner_texts()
    assert any(entry.endswith(" sending") for entry in timeline), timeline
    assert timeline[-1].endswith(" sent"), timeline
    # The page did not wait for the mail server; the browser measured its own wait.
    assert _milliseconds(page, "#server-ms") < SINK_DELAY_MS
    assert _milliseconds(page, "#ttfb") < SINK_DELAY_MS

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-signup-sent.png"), full_page=True)

    messages = wait_until(lambda: demo.received_by(email), timeout=10, what="the sink to have the message")
    assert len(messages) == 1
    assert messages[0]["subject"] == "Welcome!"
    page.goto(demo.url("/outbox/"))
    expect(page.locator("#outbox")).to_contain_text(email)


def test_sync_mode_waits_for_the_mail_server(demo, page):
    email = sign_up(page, demo.url("/?mode=sync"), "sync")
    expect(page.locator("#email-status")).to_have_text("sent")
    assert _milliseconds(page, "#server-ms") >= SINK_DELAY_MS
    assert _milliseconds(page, "#ttfb") >= SINK_DELAY_MS
    assert len(demo.received_by(email)) == 1  # sent before the page was answered
