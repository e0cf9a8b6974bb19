"""The world around the program on the page (issue 9): its controls, the Hiccup button and key,
workers backing off, and calls abandoned in the downstream, drawn and said."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from test_page import open_page, wait_frame

# A semaphore of 10, timed-out calls that go on (abandon=continue), retries: a hiccup sends it
# into the state the README describes, with workers backing off and calls abandoned.
LINK = ("arrivals=steady&rate=70&workers=100&limit=10&capacity=10&contention=0.01&service_time=0.1"
        "&timeout=0.25&queue=0&abandon=continue&retries=2&jitter=none&backoff=0.5")


def test_the_new_controls_the_hiccup_and_abandoned_calls_show_on_the_page(page, server, artifacts):
    open_page(page, server, LINK, frames=3)
    expect(page.locator("fieldset legend", has_text="Retries")).to_be_visible()
    for key, value in (("abandon", "continue"), ("jitter", "none")):
        expect(page.locator(f"#field-{key}")).to_have_value(value)
    expect(page.locator("#number-retries")).to_have_value("2")
    expect(page.locator("#number-contention")).to_have_value("0.01")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("h")  # the Hiccup key: 5 times slower for 3 s
    hiccup = wait_frame(page, "f => f.state.downstream.hiccup")
    assert hiccup["state"]["downstream"]["hiccup"][0] == 5
    # Calls the workers walked away from stay in the downstream: more in flight than the
    # semaphore's 10, drawn as hollow dots and counted under the downstream.
    wait_frame(page, "f => f.state.downstream.abandoned > 0 && f.state.downstream.in_flight > 10",
                       timeout=20_000)
    page.wait_for_function(
        "() => /abandoned/.test(window.playground.pipeline.lastLayout?.texts?.downstreamNote?.text || '')")
    # And the question card does not claim the semaphore bounds what is in flight.
    expect(page.locator("#questions")).to_contain_text("waited on at once, but calls that time out go on")
    # Workers sleeping a backoff (their permit let go) are drawn as such.
    wait_frame(page, "f => f.state.workers.some(w => w[1] === 'r')", timeout=20_000)
    page.wait_for_function(
        "() => (window.playground.pipeline.lastLayout?.workers || []).some(w => w.state === 'r')")
    page.screenshot(path=str(artifacts / "world-abandoned-after-hiccup.png"))


def test_a_modified_preset_says_so_and_keeps_only_the_claims_that_still_hold(page, server):
    open_page(page, server, "preset=unbounded-oom&queue=50", frames=2)
    notice = page.locator("#preset-notice")
    expect(notice).to_contain_text('Modified from "Unbounded queue: memory climbs to a crash": queue 50.')
    expect(notice).to_contain_text("A queue limit alone does not stop the crash")  # does not depend on queue
    expect(notice).not_to_contain_text("within 40 seconds")  # depends on queue: no longer promised
    # The cards name every way work is lost, never "nothing is lost" while anything is.
    page.goto(server.url + "/?preset=background-jobs&rate=320&queue=15&policy=reject")
    wait_frame(page, "f => f.state.totals.rejected > 0")
    expect(page.locator("#questions")).to_contain_text("Is any work lost? Yes:")
    expect(page.locator("#questions")).to_contain_text("rejected so far")
    expect(notice).to_contain_text('Modified from "Background jobs')
    expect(notice).not_to_contain_text("Nothing is lost")


def test_try_this_applies_a_presets_change_live_and_the_notice_follows(page, server):
    open_page(page, server, "preset=no-semaphore", frames=2)
    notice = page.locator("#preset-notice")
    expect(notice).to_contain_text("Set the limit to 8 and it keeps up again")
    page.get_by_role("group", name="Try this").get_by_role("button", name="Set the limit to 8").click()
    wait_frame(page, "f => f.state.semaphore.limit === 8")
    # Applied live at a moment of the run: the notice and the link say when.
    expect(notice).to_contain_text(re.compile(
        r'Modified from "No semaphore: 32 workers hammer the downstream": limit 8 at [0-9.]+ s\.'))
    assert re.search(r"do=[0-9.]+:limit=8", page.url), page.url
