"""Past the handbook on the page (issue 24): an adaptive limit (AIMD, Vegas, Gradient2) moves on the
permits and on the in-flight chart; CoDel's drops reach the event log and the questions; a fixed semaphore draws no limit line."""

from __future__ import annotations

import re

import pytest

from playwright.sync_api import expect
from test_page import FIRST_FRAME_WAIT, wait_frames, wait_js

AIMD = "workers=32&capacity=8&contention=0.1&rate=65&timeout=0.3&limit=4&limiter=aimd"
LIMITERS = {"aimd": ("An AIMD limiter allows", AIMD),
            "vegas": ("A Vegas limiter allows", AIMD.replace("timeout=0.3&", "").replace("aimd", "vegas")),
            "gradient2": ("A Gradient2 limiter allows", AIMD.replace("timeout=0.3&", "").replace("aimd", "gradient2"))}


@pytest.mark.parametrize("limiter", list(LIMITERS))
def test_an_adaptive_limit_moves_on_the_permits_and_on_the_chart(page, server, artifacts, limiter):
    sentence, link = LIMITERS[limiter]
    page.goto(f"{server.url}/?{link}")
    wait_frames(page, 2, FIRST_FRAME_WAIT)
    page.select_option("#speed", "5")
    # The permits say "held / limit" with the limit the frame carries, and it leaves its start.
    wait_js(page, """() => {
        const f = window.playground.lastFrame, text = window.playground.pipeline.text.permits || '';
        return f.state && f.state.semaphore.limit !== 4 && text.endsWith(' / ' + f.state.semaphore.limit);
    }""", what="the permits showing a limit moved from 4", timeout=20_000)
    limits = page.evaluate("window.__frames.filter(f => f.state).map(f => f.state.semaphore.limit)")
    assert len(set(limits)) >= 2 and 4 in limits, sorted(set(limits))  # from its start, then moved
    # The queue chart's in-flight panel carries the limit's line, with its name for a screen reader.
    wait_js(page, """() => [...document.querySelectorAll('#charts canvas')]
                       .some(c => /adaptive limit \\d+/.test(c.getAttribute('aria-label') || ''))""",
            what="the chart's adaptive limit line", timeout=20_000)
    expect(page.locator("#questions")).to_contain_text(sentence)
    page.screenshot(path=str(artifacts / f"{limiter}-limit.png"))


def test_a_fixed_semaphore_draws_no_limit_line(page, server):
    page.goto(f"{server.url}/?{AIMD.replace('&limiter=aimd', '')}")
    wait_frames(page, 30, FIRST_FRAME_WAIT)
    labels = page.evaluate("[...document.querySelectorAll('#charts canvas')].map(c => c.getAttribute('aria-label') || '')")
    assert labels and not any("adaptive limit" in label for label in labels), labels
    assert page.evaluate("window.playground.pipeline.text.permits").endswith(" / 4")


def test_codel_drops_reach_the_event_log_and_the_questions(page, server, artifacts):
    page.goto(f"{server.url}/?preset=standing-queue&codel=on")
    wait_frames(page, 2, FIRST_FRAME_WAIT)
    page.select_option("#speed", "5")
    expect(page.locator("#event-log li.ev-codel-drop").first).to_be_attached(timeout=20_000)
    assert re.search(r"worker-\d+ codel-dropped \d+", page.inner_text("#event-log"))
    expect(page.locator("#questions")).to_contain_text("CoDel drops work as it is taken")
    page.screenshot(path=str(artifacts / "codel-drops.png"))
