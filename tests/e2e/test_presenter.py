"""The teacher's page in a real class (issue 20, items 2 and 5): the join screen fills the projector
before the class starts (a code readable from the back row, a QR a phone can read from a desk, the
join address, a live count of phones joined), Start shrinks it to the corner, j brings it back,
Hide the code hides code, address and QR; a lesson's short first step opens paused at t = 0 on the
projector as it does solo; the standalone lesson keeps its step across a reload."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect
from test_page import wait_js

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LESSON = "handbook-in-fifteen-minutes"
SIZES = {"1280x720": (1280, 720), "1920x1080": (1920, 1080)}


def _room_code(page) -> str:
    wait_js(page, "() => /^[A-Z2-9]{6}$/.test(document.querySelector('#join-code').textContent)",
            what="the join screen's code")
    return page.inner_text("#join-code")


def _inside(page, selector: str, width: int, height: int) -> dict:
    box = page.locator(selector).bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5, (selector, box)
    return box


@pytest.mark.parametrize("name", SIZES)
def test_the_join_screen_fills_the_projector_then_shrinks_to_the_corner(new_page, server, artifacts, name):
    width, height = SIZES[name]
    teacher = new_page(viewport={"width": width, "height": height})
    teacher.goto(f"{server.url}/present?preset=webhook-ingestion")
    code = _room_code(teacher)
    screen = teacher.locator("#join-screen")
    expect(screen).to_be_visible()
    # A dialog-like region with a heading; Start has the focus.
    assert screen.get_attribute("role") == "dialog"
    assert teacher.inner_text(f"#{screen.get_attribute('aria-labelledby')}") == "Join the class"
    expect(teacher.locator("#join-start")).to_be_focused()
    # Readable from 15 m: the code at least a tenth of the screen's height.
    size = teacher.locator("#join-code").evaluate("node => parseFloat(getComputedStyle(node).fontSize)")
    assert size >= 0.1 * height, (name, size)
    # The QR the server draws for the address shown, at least 300 px.
    wait_js(teacher, "() => document.querySelector('#join-qr').complete && document.querySelector('#join-qr').naturalWidth > 0",
            what="the QR image")
    qr = _inside(teacher, "#join-qr", width, height)
    assert qr["width"] >= 300 and qr["height"] >= 300, (name, qr)
    assert teacher.locator("#join-qr").get_attribute("src") == f"/api/rooms/{code}/qr.svg"
    # The address the room's answer gives: this server listens on loopback only, so its own, and
    # the one sentence saying phones cannot open it and the command to run instead.
    expect(teacher.locator("#join-url")).to_have_text(f"{server.url}/r/{code}")
    expect(teacher.locator("#join-note")).to_contain_text("backpressure-playground present")
    for selector in ("#join-title", "#join-url", "#join-code", "#join-watching", "#join-start", "#join-note"):
        expect(teacher.locator(selector)).to_be_visible()
        _inside(teacher, selector, width, height)
    expect(teacher.locator("#join-watching")).to_have_text("Nobody has joined yet")
    phone = new_page(**PHONE)
    phone.goto(f"{server.url}/r/{code}")
    expect(teacher.locator("#join-watching")).to_have_text("1 phone joined")  # live, from the frames
    teacher.screenshot(path=str(artifacts / f"join-screen-{name}.png"))

    # Space starts the class (it does not pause the run): the join screen goes, the code stays in the corner.
    teacher.keyboard.press(" ")
    expect(screen).to_be_hidden()
    teacher.wait_for_timeout(600)
    assert teacher.evaluate("window.playground.lastFrame.status") == "running"
    corner = _inside(teacher, "#room-code", width, height)
    assert corner["x"] > width / 2 and corner["y"] < height / 2, corner  # the top right of the projector
    expect(teacher.locator("#room-qr")).to_be_visible()
    teacher.screenshot(path=str(artifacts / f"join-screen-started-{name}.png"))
    # j brings it back; Escape, Enter and the Start button each start again; so does the button.
    for start in ("Escape", "Enter", "click"):
        teacher.keyboard.press("j")
        expect(screen).to_be_visible()
        expect(teacher.locator("#join-start")).to_be_focused()
        if start == "click":
            teacher.click("#join-start")
        else:
            teacher.keyboard.press(start)
        expect(screen).to_be_hidden()
    teacher.click("#join-screen-open")
    expect(screen).to_be_visible()
    teacher.click("#join-start")
    expect(screen).to_be_hidden()
    # Hide the code: code, address and QR all go; Show the code brings them back.
    teacher.click("#room-hide")
    for selector in ("#room-code", "#room-url", "#room-qr"):
        expect(teacher.locator(selector)).to_be_hidden()
    expect(teacher.locator("#room-hide")).to_have_text("Show the code")
    teacher.click("#room-hide")
    for selector in ("#room-code", "#room-url", "#room-qr"):
        expect(teacher.locator(selector)).to_be_visible()
    # A reload once the class has started keeps it started (the room and its code in the corner).
    teacher.reload()
    expect(teacher.locator("#room-code")).to_have_text(code)
    teacher.wait_for_timeout(500)
    expect(screen).to_be_hidden()


def test_the_join_screen_shows_the_servers_address_and_its_warning(new_page, server, artifacts):
    """The address is the one the room's answer gives (an absolute join_url when there is one), and
    a join_note sentence is shown as a warning line."""
    teacher = new_page(viewport={"width": 1280, "height": 720})
    note = "Phones cannot reach 127.0.0.1: stop the server and run backpressure-playground present."

    def answer_with_a_lan_address(route):
        response = route.fetch()
        body = response.json()
        body["join_url"] = f"http://192.168.1.23:8000/r/{body['code']}"
        body["join_note"] = note
        route.fulfill(response=response, body=json.dumps(body))

    teacher.route("**/api/rooms", answer_with_a_lan_address)
    teacher.goto(f"{server.url}/present?preset=webhook-ingestion")
    code = _room_code(teacher)
    expect(teacher.locator("#join-url")).to_have_text(f"http://192.168.1.23:8000/r/{code}")
    expect(teacher.locator("#room-url")).to_have_text(f"192.168.1.23:8000/r/{code}")
    expect(teacher.locator("#join-note")).to_be_visible()
    expect(teacher.locator("#join-note")).to_have_text(note)
    _inside(teacher, "#join-note", 1280, 720)
    _inside(teacher, "#join-start", 1280, 720)
    teacher.screenshot(path=str(artifacts / "join-screen-with-note-1280x720.png"))


def test_a_lessons_short_first_step_opens_paused_at_t_0_on_the_presenter(new_page, server, artifacts):
    teacher = new_page(viewport={"width": 1280, "height": 720})
    teacher.goto(f"{server.url}/present?lesson={LESSON}")
    code = _room_code(teacher)
    teacher.click("#join-start")
    wait_js(teacher, "() => window.__frames && window.__frames.length > 8", what="a few frames")
    teacher.wait_for_timeout(1000)  # the handbook's whole run is 0.45 s at 1x: it would be over by now
    frame = teacher.evaluate("window.playground.lastFrame")
    assert frame["status"] == "paused" and frame["t"] == 0, (frame["status"], frame["t"])
    assert frame["state"]["totals"]["arrived"] == 0
    assert all(f["t"] == 0 for f in teacher.evaluate("window.__frames"))  # never a frame past t = 0
    expect(teacher.locator("#step-prompt")).to_be_visible()
    expect(teacher.locator("#lesson-step")).to_have_text("Step 1 of 8: The handbook's example")
    phone = new_page(**PHONE)
    phone.goto(f"{server.url}/r/{code}")
    wait_js(phone, "() => window.playground && window.playground.lastFrame", what="the phone's first frame")
    assert phone.evaluate("window.playground.lastFrame.t") == 0
    expect(phone.locator("#room-status")).to_have_text("Paused by the teacher.")
    # Step ▶ moves it on, one moment at a time.
    teacher.click("#step-prompt-button")  # the handbook's first moment is at t = 0: its six puts
    wait_js(teacher, "() => window.playground.lastFrame.state.totals.arrived > 0", what="a step's events")
    # Step 2 (the printed handbook, as short) opens paused at t = 0 too; step 3 runs.
    teacher.locator("body").press("ArrowRight")
    expect(teacher.locator("#lesson-step")).to_have_text("Step 2 of 8: The example as printed fails")
    wait_js(teacher, "() => window.__frames.some(f => f.full && f.scenario && f.scenario.preset === 'handbook-as-printed')",
            what="step 2's full frame")
    teacher.wait_for_timeout(800)
    frame = teacher.evaluate("window.playground.lastFrame")
    assert frame["status"] == "paused" and frame["t"] == 0, (frame["status"], frame["t"])
    teacher.locator("body").press("ArrowRight")
    expect(teacher.locator("#lesson-step")).to_have_text("Step 3 of 8: Question 1: who waits? Block")
    wait_js(teacher, "() => window.playground.lastFrame.status === 'running' && window.playground.lastFrame.t > 0.5",
            what="step 3 running")
    teacher.screenshot(path=str(artifacts / "presenter-lesson-step-3.png"))


def test_the_standalone_lesson_keeps_its_step_across_a_reload(new_page, server):
    solo = new_page()
    solo.goto(f"{server.url}/lesson/{LESSON}")
    expect(solo.locator("#lesson-step")).to_have_text("Step 1 of 8: The handbook's example")
    wait_js(solo, "() => window.playground.lastFrame && window.playground.lastFrame.status === 'paused'")
    solo.click("#lesson-next")
    solo.click("#lesson-next")
    expect(solo.locator("#lesson-step")).to_have_text("Step 3 of 8: Question 1: who waits? Block")
    solo.wait_for_url(re.compile(r"/lesson/" + LESSON + r"\?step=3&.*preset=background-jobs"))
    address = solo.url
    solo.reload()
    expect(solo.locator("#lesson-step")).to_have_text("Step 3 of 8: Question 1: who waits? Block")
    wait_js(solo, "() => (window.__frames || []).some(f => f.full && f.scenario"
                  " && f.scenario.preset === 'background-jobs')", what="step 3's scenario")
    expect(solo.locator("#lesson-prev")).to_be_enabled()
    assert solo.url == address
    # The address is shareable: a fresh tab opens the same step, and Back goes to step 2.
    other = new_page()
    other.goto(f"{server.url}/lesson/{LESSON}?step=3")
    expect(other.locator("#lesson-step")).to_have_text("Step 3 of 8: Question 1: who waits? Block")
    other.click("#lesson-prev")
    expect(other.locator("#lesson-step")).to_have_text("Step 2 of 8: The example as printed fails")
    other.wait_for_url(re.compile(r"\?step=2&.*preset=handbook-as-printed"))
    # A step out of range opens the nearest one; nonsense opens the first.
    other.goto(f"{server.url}/lesson/{LESSON}?step=99")
    expect(other.locator("#lesson-step")).to_have_text(re.compile(r"^Step 8 of 8"))
    other.goto(f"{server.url}/lesson/{LESSON}?step=x")
    expect(other.locator("#lesson-step")).to_have_text(re.compile(r"^Step 1 of 8"))


def test_two_quick_steps_reach_the_room_in_the_order_pressed(new_page, server):
    """CI saw a teacher's → → end a step short. The first press's request is held here: the
    second press must go on from the step the teacher chose (the room's frames, still at the step
    before, moved the page back to it and the press was lost), and its request must wait for the
    first's answer (two at once could be handled out of order)."""
    teacher = new_page(viewport={"width": 1280, "height": 720})
    held, seen = [], []

    def hold_the_first_step(route):
        body = route.request.post_data or ""
        if '"step"' not in body:
            route.continue_()
            return
        index = json.loads(body)["step"]["index"]
        seen.append(index)
        if index == 1 and not held:
            held.append(route)  # the first press's: answered below, after the second press
        else:
            route.continue_()

    teacher.route("**/api/rooms/*/control", hold_the_first_step)
    teacher.goto(f"{server.url}/present?lesson=handbook-in-fifteen-minutes")
    wait_js(teacher, "() => /^[A-Z2-9]{6}$/.test(document.querySelector('#join-code').textContent)",
            what="the join screen's code")
    teacher.click("#join-start")
    expect(teacher.locator("#lesson-step")).to_contain_text("Step 1 of 8")
    wait_js(teacher, "() => window.playground.lastFrame?.room?.step?.index === 0", what="the first step")
    teacher.locator("body").press("ArrowRight")
    teacher.wait_for_timeout(400)  # frames of the room, still at step 1, arrive meanwhile
    teacher.locator("body").press("ArrowRight")
    teacher.wait_for_timeout(400)
    assert seen == [0, 1], f"the second press went out before the first was answered: {seen}"
    held[0].continue_()
    expect(teacher.locator("#lesson-step")).to_contain_text("Step 3 of 8")
    wait_js(teacher, "() => window.playground.lastFrame?.room?.step?.index === 2",
            what="the room's frames at the third step")
    assert seen == [0, 1, 2]
    teacher.wait_for_timeout(1000)  # and it stays there: no late answer moves it back
    assert teacher.evaluate("() => window.playground.lastFrame.room.step.index") == 2
    expect(teacher.locator("#lesson-step")).to_contain_text("Step 3 of 8")
