"""Browser tests for the page fixes of the new user's issue: shortcuts wherever the focus is (3),
a finished run's controls and summary (4), a bad link's valid keys and named errors (5), the
handbook opened paused at t = 0 (7), and number boxes and dimmed controls (8).

The ``page`` fixture fails a test on any console error, so each test also proves the console
stays clean (a 422 in the console would fail it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import urlsplit

from playwright.sync_api import expect
from test_page import (
    FIRST_FRAME_WAIT,
    WAIT,
    full_frames,
    last_frame,
    more_frames,
    open_page,
    status,
    wait_frame,
    wait_frames,
    wait_js,
)


def _responses(page) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    page.on("response", lambda response: seen.append((response.status, response.url)))
    return seen


# 3. shortcuts ------------------------------------------------------------------------------------


def test_space_after_clicking_burst_or_reset_or_choosing_a_speed_pauses(page, server):
    open_page(page, server, frames=3)
    running = wait_frame(page, "f => f.status === 'running'")
    page.click("#burst")  # focus stays on the button
    burst = wait_frame(page, "(f, a) => f.state.totals.arrived >= a + 20", running["state"]["totals"]["arrived"])
    assert page.evaluate("document.activeElement.id") == "burst"
    page.keyboard.press("Space")  # must pause, not burst again
    expect(status(page)).to_have_attribute("data-state", "paused")
    paused = wait_frame(page, "f => f.status === 'paused'")
    more_frames(page, 4)
    assert last_frame(page)["state"]["totals"]["arrived"] == paused["state"]["totals"]["arrived"]
    assert paused["state"]["totals"]["arrived"] < burst["state"]["totals"]["arrived"] + 20

    page.keyboard.press("Space")  # resume, still on the Burst button
    wait_frame(page, "f => f.status === 'running'")
    wait_frame(page, "f => f.t >= 1.2")
    page.click("#reset")
    reset = wait_frame(page, "(f, r) => f.run > r", paused["run"])
    assert page.evaluate("document.activeElement.id") == "reset"
    page.keyboard.press("Space")  # must pause, not reset again
    expect(status(page)).to_have_attribute("data-state", "paused")
    more_frames(page, 4)
    assert last_frame(page)["run"] == reset["run"]

    page.select_option("#speed", "2")
    wait_frame(page, "f => f.speed === 2")
    page.focus("#speed")
    page.keyboard.press("Space")  # a focused speed menu: Space still resumes
    expect(status(page)).to_have_attribute("data-state", "live")
    wait_frame(page, "f => f.status === 'running'")
    assert page.input_value("#speed") == "2"


# 4. a finished run ---------------------------------------------------------------------------------


def test_a_finished_run_disables_burst_step_drain_and_shows_a_summary(page, server, artifacts):
    responses = _responses(page)
    open_page(page, server, "preset=handbook&items=4")  # items=4: also over in well under a second
    wait_frame(page, "f => f.status === 'paused'")
    page.click("#pause")  # resume: the run plays to its end
    wait_frame(page, "f => f.status === 'finished'")
    expect(status(page)).to_have_attribute("data-state", "finished")
    for button in ("#burst", "#step", "#drain"):
        expect(page.locator(button)).to_be_disabled()
        assert "finished" in page.get_attribute(button, "title")
    assert page.evaluate("window.playground.runOver") == "finished"

    summary = page.locator("#run-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading", name="End of run")).to_be_visible()
    terms = dict(zip(summary.locator("dt").all_inner_texts(), summary.locator("dd").all_inner_texts()))
    assert terms["Arrived"] == "4" and terms["Completed"] == "4", terms
    for reason in ("Rejected (queue full)", "Dropped (oldest pushed out)", "Put timeouts",
                   "Stale (older than max age)", "Call timeouts", "Lost in crashes"):
        assert terms[reason] == "0", (reason, terms)
    assert "items/s" in terms["Throughput"] and "Latency p50 / p95 / p99" in terms
    # The run-wide latency is the engine's exact summary, the CLI's, not the worst window's.
    cli = json.loads(subprocess.run([sys.executable, "-m", "playground", "run", "preset=handbook&items=4", "--json"],
                                    capture_output=True, text=True, check=True).stdout)
    shown = [f"{round(cli[k] * 1000, 1):g} ms" for k in ("latency_p50", "latency_p95", "latency_p99")]
    assert terms["Latency p50 / p95 / p99"] == " / ".join(shown), (terms, cli)
    assert page.evaluate("window.playground.pipeline.lastLayout.texts.arrivals.text") == "no more arrivals"
    assert terms["Crashes (out of memory)"] == "0"
    page.screenshot(path=str(artifacts / "fixes-finished-summary.png"), full_page=True)

    page.locator("body").click(position={"x": 5, "y": 5})
    for key, word in (("b", "Burst"), (".", "Step"), ("d", "Drain")):
        page.keyboard.press(key)
        expect(page.locator("#status-text")).to_contain_text(f"{word} does nothing now")
        expect(page.locator("#status-announce")).to_contain_text("finished")
    controls = [(code, url) for code, url in responses if url.endswith("/control") and code >= 400]
    assert not controls, controls

    page.click("#run-again")
    wait_frame(page, "f => f.status === 'paused' && f.t === 0 && f.run >= 1")
    expect(summary).to_be_hidden()
    for button in ("#burst", "#step", "#drain"):
        expect(page.locator(button)).to_be_enabled()


# 5. a bad link -------------------------------------------------------------------------------------


def test_a_bad_link_keeps_its_valid_keys_and_names_every_bad_key(page, server, artifacts):
    responses = _responses(page)
    query = "queue=-5&rate=80&wokers=3"
    page.goto(f"{server.url}/?{query}")
    wait_frames(page, 3, FIRST_FRAME_WAIT)
    scenario = full_frames(page)[0]["scenario"]
    assert scenario["rate"] == 80 and scenario["queue"] == 20 and scenario["preset"] is None, scenario
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("role", "alert")
    items = notice.locator("li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("queue")
    expect(items.nth(0)).to_contain_text("-5")
    expect(items.nth(1)).to_contain_text("wokers")
    expect(items.nth(1)).to_contain_text("workers")
    assert page.input_value("#number-rate") == "80"
    more_frames(page, 5)
    assert urlsplit(page.url).query == query, "the address bar was rewritten"
    assert not [r for r in responses if r[0] >= 400], responses
    page.screenshot(path=str(artifacts / "fixes-bad-link.png"))
    # Changing a control replaces the link with the running scenario.
    page.fill("#number-queue", "7")
    page.keyboard.press("Enter")
    wait_js(page, "() => window.__linkSettings().get('queue') === '7'"
                  " && window.__linkSettings().get('rate') === '80'",
            what="the address bar showing the running scenario after a change")


# 7. the handbook opens paused --------------------------------------------------------------------------


def test_the_handbook_opens_paused_at_t0_and_step_shows_the_six_produces(page, server, artifacts):
    open_page(page, server, "preset=handbook", frames=3)
    wait_frame(page, "f => f.status === 'paused'")
    more_frames(page, 5)
    frame = last_frame(page)
    assert frame["status"] == "paused" and frame["t"] == 0 and frame["state"]["totals"]["arrived"] == 0
    prompt = page.locator("#step-prompt")
    expect(prompt).to_be_visible()
    button = page.get_by_role("button", name="Step ▶")
    expect(button).to_be_visible()
    page.screenshot(path=str(artifacts / "fixes-handbook-paused.png"))
    button.click()
    stepped = wait_frame(page, "f => f.state.totals.arrived === 6")
    assert stepped["t"] == 0 and stepped["status"] == "paused"
    produced = page.evaluate("(window.__frames || []).flatMap(f => f.events).filter(e => e[1] === 'produce')")
    assert len(produced) == 6 and all(e[0] == 0 for e in produced)
    expect(page.locator("#event-log")).to_contain_text("produce 5")
    page.screenshot(path=str(artifacts / "fixes-handbook-step1.png"))


# 8. number boxes and dimmed controls -------------------------------------------------------------------


def test_number_boxes_apply_and_validate_and_unused_controls_are_dimmed(page, server, artifacts):
    open_page(page, server, "arrivals=poisson&policy=block&producer=open", frames=2)
    page.fill("#number-workers", "7")
    page.keyboard.press("Enter")
    wait_frame(page, "f => f.state.workers.length === 7")
    assert page.input_value("#field-workers") == "7"  # the slider's low end is linear
    page.fill("#number-workers", "999")
    page.keyboard.press("Enter")
    expect(page.locator("#error-workers")).to_contain_text("from 1 to 256")
    expect(page.locator("#number-workers")).to_have_attribute("aria-invalid", "true")
    for key in ("burst", "period", "producers", "put_timeout"):
        field = page.locator(f".field[data-key={key}]")
        assert "not-applicable" in field.get_attribute("class"), key
        expect(page.locator(f"#note-{key}")).to_be_visible()
    page.select_option("#field-policy", "timeout")
    expect(page.locator("#note-put_timeout")).to_be_hidden()
    page.locator("#controls").screenshot(path=str(artifacts / "fixes-controls.png"))


# 13. the first frame ------------------------------------------------------------------------------


def test_the_first_frame_needs_one_request_and_comes_with_the_session(page, server):
    requests: list[tuple[str, str]] = []
    page.on("request", lambda request: requests.append((request.method, urlsplit(request.url).path)))
    open_page(page, server, "preset=webhook-ingestion&queue=7", frames=1)
    api = [(method, path) for method, path in requests if path.startswith("/api/")]
    assert api[0] == ("POST", "/api/sessions"), api  # no fields, presets or link check first
    assert not [path for _, path in api if path in ("/api/fields", "/api/presets", "/api/scenario")], api
    assert sum(1 for call in api if call == ("POST", "/api/sessions")) == 1, api
    wait_frame(page, "f => f.t > 0")
    # The page's controls come right after that first draw, showing the link's values.
    expect(page.locator("#number-queue")).to_have_value("7")
    assert page.evaluate("window.__linkSettings().get('queue')") == "7"
