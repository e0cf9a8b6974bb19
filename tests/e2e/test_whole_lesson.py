"""The shipped lesson in a real class (issue 20, "done when"): a server listening on the network,
the presenter at 1280x720, two phones that join on the address the projector shows (read from the
join screen, whose QR is decoded here and must say the same), a third phone that joins late, at
step 4. At every step each phone shows the step, its pipeline draws (its pixels are read), a
comparison shows A and B, labelled, with numbers for both; the step's question reaches every
phone, the phones answer, the teacher reveals, and every phone reads the result. Any console
error on any page fails the test (``new_page``'s watcher).

Screenshots: the join screen at 1280x720 and 1920x1080, a phone at each comparison step, the
reveal on the projector and on a phone (tests/e2e/artifacts/whole-lesson-*.png).
"""

from __future__ import annotations

import io
import ipaddress
import re
from urllib.parse import urlsplit

import zxingcpp
from PIL import Image
from playwright.sync_api import expect
from test_page import wait_js
from test_phones import COUNT_INK, INKED, comparison_problems

from playground.teach import course

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
LESSON = "handbook-in-fifteen-minutes"


def _decode_qr(png: bytes) -> str:
    """The text of the one QR code in a screenshot (zxing-cpp, a real decoder, not our encoder)."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert len(found) == 1, f"{len(found)} codes found in the join screen's QR"
    return found[0].text


def _ink(page, canvas: str) -> float:
    return page.evaluate(COUNT_INK, canvas)


def _wait_for_step(phone, index: int, title: str, preset: str) -> None:
    expect(phone.locator("#room-notice")).to_contain_text(f"Step {index} of 8: {title}")
    wait_js(phone, """preset => window.playground && window.playground.lastFrame
                   && (window.__frames || []).some(f => f.full && f.scenario && f.scenario.preset === preset)""",
            arg=preset, what=f"step {index}'s scenario ({preset}) on the phone")
    frames = phone.evaluate("window.playground.frames")
    wait_js(phone, "n => window.playground.frames >= n", arg=frames + 4, what="a few frames of the step")
    phone.wait_for_timeout(200)  # a few draws


def _check_phone(phone, index: int, comparing: bool) -> list[str]:
    problems = []
    ink = _ink(phone, "pipeline")
    if ink < INKED:
        problems.append(f"step {index}: the pipeline is blank ({ink:.3f} inked)")
    shown = phone.evaluate("() => Boolean(window.playground.compare)")
    if shown != comparing:
        problems.append(f"step {index}: comparing is {shown}, the step {'is' if comparing else 'is not'} a comparison")
    if comparing:
        problems.extend(f"step {index}: {problem}" for problem in comparison_problems(phone))
    return problems


def _answer(phone, guess: str) -> None:
    """Answer the question on the phone: a number, or the first choice offered."""
    expect(phone.locator("#question")).to_be_visible()
    number = phone.locator("#question-number")
    if number.count():
        number.fill(guess)
    phone.locator("#question-answers button").first.click()
    expect(phone.locator("#question-result")).not_to_have_text("")


def test_the_shipped_lesson_in_a_room_with_three_phones_one_late(server_with, new_page, artifacts):
    server = server_with(host="0.0.0.0")
    steps = course.lesson(LESSON).steps
    assert len(steps) == 8

    teacher = new_page(viewport={"width": 1280, "height": 720})
    teacher.goto(f"{server.url}/present?lesson={LESSON}")
    wait_js(teacher, "() => /^[A-Z2-9]{6}$/.test(document.querySelector('#join-code').textContent)",
            what="the join screen's code")
    code = teacher.inner_text("#join-code")
    expect(teacher.locator("#join-screen")).to_be_visible()
    join = teacher.inner_text("#join-url").strip()
    host = urlsplit(join).hostname
    assert host and not ipaddress.ip_address(host).is_loopback, f"the join screen says {join!r}"
    assert urlsplit(join).path == f"/r/{code}" and urlsplit(join).port == server.port, join
    expect(teacher.locator("#join-note")).to_be_hidden()  # the server listens on the network: no warning
    wait_js(teacher, "() => document.querySelector('#join-qr').complete"
                     " && document.querySelector('#join-qr').naturalWidth > 0", what="the QR image")
    assert _decode_qr(teacher.locator("#join-qr").screenshot()) == join
    teacher.screenshot(path=str(artifacts / "whole-lesson-join-1280x720.png"))

    # Two phones join on the address the projector shows; the joined count follows.
    phones = []
    for n in (1, 2):
        phone = new_page(**PHONE)
        phone.goto(join)
        expect(phone.locator("#room-status")).not_to_have_text(re.compile("Joining"))
        expect(teacher.locator("#join-watching")).to_have_text(f"{n} phone{'s' if n > 1 else ''} joined")
        phones.append(phone)
    teacher.set_viewport_size({"width": 1920, "height": 1080})
    teacher.wait_for_timeout(1200)  # the presenter refits every second
    size = teacher.locator("#join-code").evaluate("node => parseFloat(getComputedStyle(node).fontSize)")
    assert size >= 108, f"the code is {size} px at 1920x1080"
    assert _decode_qr(teacher.locator("#join-qr").screenshot()) == join
    teacher.screenshot(path=str(artifacts / "whole-lesson-join-1920x1080.png"))
    teacher.set_viewport_size({"width": 1280, "height": 720})
    teacher.click("#join-start")
    expect(teacher.locator("#join-screen")).to_be_hidden()

    problems: list[str] = []
    revealed = False
    for index, step in enumerate(steps, start=1):
        if index > 1:
            teacher.locator("body").press("ArrowRight")
        expect(teacher.locator("#lesson-step")).to_have_text(f"Step {index} of 8: {step.title}")
        preset = re.search(r"preset=([\w-]+)", step.link).group(1)
        if index == 4:  # the latecomer, on the same address
            late = new_page(**PHONE)
            late.goto(join)
            phones.append(late)
        comparing = "-vs-" in preset
        for number, phone in enumerate(phones, start=1):
            _wait_for_step(phone, index, step.title, preset)
            problems.extend(f"phone {number}: {p}" for p in _check_phone(phone, index, comparing))
            if comparing:
                phone.screenshot(path=str(artifacts / f"whole-lesson-step-{index}-phone-{number}.png"),
                                 full_page=True)
        if step.question:
            expect(teacher.locator("#question-status")).to_contain_text("0 answered")
            for number, phone in enumerate(phones, start=1):
                _answer(phone, str(10 * number))
            expect(teacher.locator("#question-status")).to_contain_text(f"{len(phones)} answered")
            teacher.click("#question-reveal")
            expect(teacher.locator("#question-status")).to_contain_text("The class guessed")
            for number, phone in enumerate(phones, start=1):
                result = phone.locator("#question-result")
                expect(result).to_contain_text("You said")
                if not revealed:
                    phone.screenshot(path=str(artifacts / f"whole-lesson-reveal-phone-{number}.png"), full_page=True)
            if not revealed:
                teacher.screenshot(path=str(artifacts / "whole-lesson-reveal-1280x720.png"))
                revealed = True
    assert revealed, "the lesson asked no question"
    assert not problems, "\n".join(problems)
    watching = teacher.evaluate("window.playground.lastFrame.room.watching")
    assert watching == 3, f"the room counts {watching} watching"
