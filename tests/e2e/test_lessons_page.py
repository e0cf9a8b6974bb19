"""Every lesson on the page (issue 10): the printed handbook fails plainly and its fix is one
click away; each preset at 10 s of sim time, screenshotted for a person to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_page import open_page, wait_frame

from playground.model.presets import PRESETS


def test_the_printed_handbook_shows_its_failure_and_the_fix_applies(page, server, artifacts):
    open_page(page, server, "preset=handbook-as-printed")
    expect(page.locator("#step-prompt-text")).to_contain_text("the program as printed fails at once")
    expect(page.locator("#preset-notice")).to_contain_text("Not one item is handled")
    page.locator("#step-prompt-button").click()
    wait_frame(page, "f => f.status === 'finished'")
    summary = page.locator("#run-summary")
    expect(summary).to_be_visible()
    expect(page.locator("#run-summary-title")).to_have_text("The program failed")
    expect(page.locator("#run-summary-why")).to_contain_text(
        "main() raised ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception): QueueShutDown")
    expect(page.locator("#run-summary-why")).to_contain_text("0 items were handled")
    expect(page.locator("#event-log")).to_contain_text("worker-2 shutdown")
    expect(page.locator("#event-log")).to_contain_text("main() raised ExceptionGroup")
    page.screenshot(path=str(artifacts / "lesson-handbook-as-printed.png"), full_page=True)
    # The fix cannot be made live (main joins once): the button opens the handbook as a new run.
    page.get_by_role("group", name="Try this").get_by_role(
        "button", name="Apply the fix: await the producer, then join").click()
    page.wait_for_url("**/?v=1&preset=handbook", timeout=10_000)
    expect(page.locator("#preset-notice")).to_contain_text("The handbook's example.")
    expect(page.locator("#run-summary")).to_be_hidden()


def test_changing_join_on_the_page_starts_a_new_run(page, server):
    open_page(page, server, "preset=handbook", frames=1)
    page.select_option("#field-join", "at-start")
    page.wait_for_url("**join=at-start**", timeout=10_000)
    # The new session's first (full) frame carries its scenario.
    page.wait_for_function("() => (window.__frames || []).some(f => f.full && f.scenario.join === 'at-start')",
                           timeout=10_000)
    expect(page.locator("#step-prompt-text")).to_contain_text("the program as printed fails at once")


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_at_ten_seconds(page, server, artifacts, name):
    """A screenshot of each preset at 10 s of sim time (5x, so it takes about 2 s), to look at."""
    open_page(page, server, f"preset={name}")
    if page.locator("#step-prompt").is_visible():  # the handbooks open paused at t = 0
        page.locator("#step-prompt-button").click()
        page.keyboard.press("Space")
    page.select_option("#speed", "5")
    frame = wait_frame(page, "f => f.t >= 10 || ['finished', 'halted'].includes(f.status)", timeout=30_000)
    page.screenshot(path=str(artifacts / f"preset-{name}-10s.png"), full_page=False)
    # What the page says about losses is what the run has lost.
    totals = frame["state"]["totals"]
    lost = sum(totals[k] for k in ("rejected", "dropped", "put_timeouts", "stale", "timeouts", "throttled", "lost"))
    cards = page.locator("#questions")
    if lost:
        expect(cards).not_to_contain_text("Nothing is lost")
