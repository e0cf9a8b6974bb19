"""Legible everywhere (issue 21, item 4): axe-core (the engine of browsers' accessibility
tools, bundled by axe-playwright-python: nothing is fetched) finds no serious or critical
violation on the page, a comparison, the presenter and a room phone, in the light and the dark
theme; the notice can be expanded by click and keyboard, and on the projector its instructions are
shown whole."""

from __future__ import annotations

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from test_page import open_page, wait_frames, wait_js

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SERIOUS = ("serious", "critical")


def _violations(page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {len(v['nodes'])} nodes, e.g. {v['nodes'][0]['target']}: "
            f"{v['nodes'][0].get('failureSummary', '')[:300]}" for v in found if v["impact"] in SERIOUS]


def _theme(page, theme: str) -> None:
    page.select_option("#theme", theme)
    page.wait_for_timeout(300)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("view", ["/", "/?preset=semaphore-vs-none", "/present?preset=webhook-ingestion"])
def test_no_serious_violations_on_the_page(new_page, server, view, theme):
    page = new_page(viewport={"width": 1280, "height": 720})
    page.goto(server.url + view)
    wait_frames(page, 3)
    if view.startswith("/present"):
        wait_js(page, "() => document.querySelector('#join-start')")
        page.click("#join-start")
    _theme(page, theme)
    problems = _violations(page)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_violations_on_a_room_phone(new_page, server, theme):
    made = httpx.post(f"{server.url}/api/rooms", json={"link": "v=1&preset=semaphore-vs-none"}, timeout=10)
    assert made.status_code == 201, made.text
    phone = new_page(**PHONE, color_scheme=theme)
    phone.goto(f"{server.url}/r/{made.json()['code']}")
    wait_frames(phone, 3)
    problems = _violations(phone)
    assert not problems, "\n".join(problems)


NOTICE = "preset=semaphore-vs-none"


def test_a_cut_notice_opens_by_click_and_keyboard_and_is_whole_on_the_projector(new_page, server, artifacts):
    page = new_page(viewport={"width": 1280, "height": 720})
    open_page(page, server, NOTICE)
    notice, more = page.locator("#preset-notice"), page.locator("#notice-more")
    expect(more).to_be_visible()  # two lines at 1280x720: the rest is behind More
    expect(more).to_have_attribute("aria-expanded", "false")
    cut = notice.evaluate("n => n.clientHeight")
    more.click()
    expect(more).to_have_text("Less")
    expect(more).to_have_attribute("aria-expanded", "true")
    assert notice.evaluate("n => n.clientHeight") > cut and notice.evaluate("n => n.scrollHeight <= n.clientHeight + 1")
    page.keyboard.press("Enter")  # the button keeps the focus: Enter cuts it again
    expect(more).to_have_text("More")
    assert notice.evaluate("n => n.clientHeight") == cut
    page.screenshot(path=str(artifacts / "notice-cut-1280x720.png"))
    projector = new_page(viewport={"width": 1280, "height": 720})
    projector.goto(f"{server.url}/present?{NOTICE}")
    wait_frames(projector, 3)
    projector.click("#join-start")
    whole = projector.locator("#preset-notice")
    expect(whole).to_contain_text("with p99 latency at most half as long")  # the last words
    assert whole.evaluate("n => n.scrollHeight <= n.clientHeight + 1"), "the notice is cut on the projector"
    assert whole.evaluate("n => n.getBoundingClientRect().bottom") <= 720
    expect(projector.locator("#notice-more")).to_be_hidden()
    projector.screenshot(path=str(artifacts / "notice-whole-presenter-1280x720.png"))


def test_a_cut_status_opens_by_click_and_keyboard(new_page, server, artifacts):
    page = new_page(viewport={"width": 1280, "height": 720})
    open_page(page, server, "preset=handbook-as-printed")
    page.click("#pause")  # the handbook's presets open paused
    text, more = page.locator("#status-text"), page.locator("#status-more")
    expect(text).to_contain_text("QueueShutDown", timeout=10_000)  # the program's failure, at length
    cut = "n => n.scrollWidth > n.clientWidth + 1"
    expect(more).to_be_visible()
    assert text.evaluate(cut), "the status is not cut, so this test tests nothing"
    more.click()
    expect(more).to_have_text("Less")
    expect(more).to_have_attribute("aria-expanded", "true")
    assert not text.evaluate(cut), "the expanded status is still cut"
    page.screenshot(path=str(artifacts / "status-expanded-1280x720.png"))
    more.focus()
    page.keyboard.press("Enter")
    expect(more).to_have_text("More")
    assert text.evaluate(cut)


def test_the_rate_label_follows_a_change_within_a_second(page, server):
    open_page(page, server, "preset=webhook-ingestion", frames=3)
    arrivals = "() => (window.playground.pipeline.lastLayout.texts.arrivals || {}).text"
    expect_text = "n => (window.playground.pipeline.lastLayout.texts.arrivals || {}).text === n"
    wait_js(page, expect_text, arg="60/s arriving", what="the label at the preset's rate")
    page.fill("#number-rate", "5")
    page.press("#number-rate", "Enter")
    changed_at = page.evaluate("performance.now()")
    wait_js(page, expect_text, arg="5/s arriving", timeout=1_000, what="the label at the new rate")
    assert page.evaluate("performance.now()") - changed_at < 1_000
    assert page.evaluate(arrivals) == "5/s arriving"


def test_the_producers_label_follows_a_change_within_a_second(page, server):
    open_page(page, server, "preset=background-jobs&workers=20", frames=3)  # nobody blocks at put
    expect_text = "n => (window.playground.pipeline.lastLayout.texts.arrivals || {}).text === n"
    wait_js(page, expect_text, arg="2 producers", what="the label at the preset's producers")
    # Every frame says how many producers there are now, not only the full ones.
    assert page.evaluate("() => window.playground.lastFrame.state.producer_count") == 2
    page.fill("#number-producers", "5")
    page.press("#number-producers", "Enter")
    changed_at = page.evaluate("performance.now()")
    wait_js(page, expect_text, arg="5 producers", timeout=1_000, what="the label at the new count")
    assert page.evaluate("performance.now()") - changed_at < 1_000


# Okabe and Ito's palette under the colour-blind simulations of Machado, Oliveira and Fernandes
# (2009, severity 1.0): every pair of outcome colours stays apart.
MACHADO = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = rgb
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = [v ** (1 / 3) if v > 0.008856 else 7.787 * v + 16 / 116 for v in (x, y, z)]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def test_the_outcome_colours_stay_apart_for_the_colour_blind():
    import itertools
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "static" / "js" / "outcomecolors.js").read_text()
    colours = dict(re.findall(r'(out_\w+): "#([0-9A-Fa-f]{6})"', source))
    assert len(colours) == 6 and len(set(colours.values())) == 6
    linear = {k: tuple(_linear(int(v[i:i + 2], 16) / 255) for i in (0, 2, 4)) for k, v in colours.items()}
    for name, matrix in [("normal", ((1, 0, 0), (0, 1, 0), (0, 0, 1))), *MACHADO.items()]:
        seen = {k: _lab(tuple(max(0.0, min(1.0, sum(m * c for m, c in zip(row, rgb)))) for row in matrix))
                for k, rgb in linear.items()}
        for a, b in itertools.combinations(seen, 2):
            distance = sum((p - q) ** 2 for p, q in zip(seen[a], seen[b])) ** 0.5
            assert distance > 10, f"{name}: {a} and {b} are {distance:.1f} apart (CIE76)"
