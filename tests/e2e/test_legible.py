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
