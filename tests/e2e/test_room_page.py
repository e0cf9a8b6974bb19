"""A room on the page (issue 12): a teacher presents, two students on phones join by code and
watch the same frames, the teacher lets the class send requests, the presses fill the queue, and
the room survives the teacher's reload."""

from __future__ import annotations

from playwright.sync_api import expect
from test_page import wait_js

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
#: A calm service (load 0.4): whatever fills its queue is the class.
CALM = "v=1&arrivals=steady&rate=2&queue=30&workers=1&limit=1&service_time=0.2&service_dist=constant"


def test_a_class_joins_watches_the_same_run_and_is_the_load(new_page, server, artifacts):
    teacher = new_page(viewport={"width": 1280, "height": 720})
    teacher.goto(f"{server.url}/present?{CALM}")
    wait_js(teacher, "() => /^[A-Z2-9]{6}$/.test(document.querySelector('#room-code').textContent)")
    code = teacher.inner_text("#room-code")
    assert teacher.url.startswith(f"{server.url}/present/{code}?")
    teacher.click("#join-start")  # the join screen shrinks to the room panel (test_presenter.py tests it)
    expect(teacher.locator("#room-qr")).to_be_visible()
    students = [new_page(**PHONE) for _ in range(2)]
    for student in students:
        student.goto(f"{server.url}/r/{code}")
        wait_js(student, "() => window.__frames && window.__frames.length > 5")
    expect(teacher.locator("#room-watching")).to_have_text("2 watching")
    # The same frames: one broadcast per tick, the same bytes for both.
    # (A full frame -- on joining, or after a missed tick -- is made when asked, so it may be a
    # moment later than its tick's broadcast; the broadcasts themselves are one for all.)
    ticks = [{f["tick"]: (f["t"], f["state"]["totals"]) for f in s.evaluate("window.__frames") if not f.get("full")}
             for s in students]
    shared = set(ticks[0]) & set(ticks[1])
    assert len(shared) >= 3 and all(ticks[0][tick] == ticks[1][tick] for tick in shared)
    # No button until the teacher allows it; then every press sends five requests.
    expect(students[0].locator("#send-requests")).to_be_hidden()
    teacher.check("#room-allow-send")
    for student in students:
        expect(student.locator("#send-requests")).to_be_visible()
    for _ in range(3):
        for student in students:
            student.click("#send-requests")
        students[0].wait_for_timeout(1050)  # one press a second each
    expect(students[1].locator("#send-result")).to_have_text("Sent 5 requests.")
    expect(teacher.locator("#room-class-sent")).to_contain_text("The class sent 30 requests in the last 10 s")
    most = max(f["state"]["queue"]["n"] for f in students[0].evaluate("window.__frames"))
    assert most >= 15, f"the class's presses should fill the queue; at most {most} were queued"
    # Predict, then reveal: the phones answer, the projector counts, the reveal sets the guesses
    # beside what the run did (no names anywhere).
    teacher.select_option("#question-pick", "completed-next")
    teacher.click("#question-ask")
    for student, guess in zip(students, ("10", "25")):
        student.locator("#question-number").fill(guess)
        student.locator("#question-answers button").click()
    expect(teacher.locator("#question-status")).to_contain_text("2 answered")
    students[0].wait_for_timeout(2000)
    teacher.click("#question-reveal")
    expect(teacher.locator("#question-status")).to_contain_text("The class guessed 2 guesses, median 17.5")
    expect(students[0].locator("#question-result")).to_contain_text("completed in")
    expect(students[0].locator("#question-result")).to_contain_text("You said 10")
    students[0].screenshot(path=str(artifacts / "room-student-phone.png"))
    teacher.screenshot(path=str(artifacts / "room-teacher-1280x720.png"))
    # The teacher reloads: same room, same run, still driving it.
    t_before = teacher.evaluate("window.playground.lastFrame.t")
    teacher.reload()
    wait_js(teacher, "t => window.playground && window.playground.lastFrame && window.playground.lastFrame.t > t",
            arg=t_before)
    expect(teacher.locator("#room-code")).to_have_text(code)
    teacher.click("#pause")
    wait_js(students[0], "() => window.playground.lastFrame.status === 'paused'")
    expect(students[0].locator("#room-status")).to_have_text("Paused by the teacher.")


SIZES = {"1280x720": (1280, 720), "1024x768": (1024, 768), "1920x1080": (1920, 1080)}


def test_the_presenter_view_fits_the_projector_with_nothing_cut(new_page, server, artifacts):
    for name, (width, height) in SIZES.items():
        page = new_page(viewport={"width": width, "height": height})
        page.goto(f"{server.url}/present?preset=webhook-ingestion")
        wait_js(page, "() => document.body.classList.contains('presenting') && window.playground.frames > 10")
        page.click("#join-start")
        page.wait_for_timeout(1200)  # the sizes settle (fitPresenter runs every second)
        scroll = page.evaluate("[document.documentElement.scrollHeight, document.documentElement.scrollWidth]")
        assert scroll == [height, width], (name, scroll)
        for selector in ("#pipeline", "#room-code", "#room-qr", "#key-numbers",
                         "#charts canvas.chart.picked >> nth=0", "#charts canvas.chart.picked >> nth=1"):
            box = page.locator(selector).bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, (name, selector, box)
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (name, selector, box)
        expect(page.locator("#charts canvas.chart.picked")).to_have_count(2)
        expect(page.locator(".controls-panel")).to_be_hidden()
        page.locator("#event-log").evaluate("() => document.querySelector('#chart-pick-1').focus()")
        page.keyboard.press(" ")  # Space pauses wherever the focus is, even on a select
        expect(page.locator("#paused-banner")).to_be_visible()
        page.screenshot(path=str(artifacts / f"presenter-{name}.png"))
        page.locator("#present-toggle").click()  # the console: every control again
        expect(page.locator(".controls-panel")).to_be_visible()
        expect(page.locator("#paused-banner")).to_be_hidden()


def test_the_teacher_advances_a_lesson_and_every_viewer_follows(new_page, server, artifacts):
    teacher = new_page(viewport={"width": 1280, "height": 720})
    teacher.goto(f"{server.url}/present?lesson=handbook-in-fifteen-minutes")
    wait_js(teacher, "() => /^[A-Z2-9]{6}$/.test(document.querySelector('#room-code').textContent)")
    code = teacher.inner_text("#room-code")
    teacher.click("#join-start")
    phone = new_page(**PHONE)
    phone.goto(f"{server.url}/r/{code}")
    expect(phone.locator("#room-notice")).to_contain_text("Step 1 of 8: The handbook's example")
    teacher.locator("body").press("ArrowRight")
    teacher.locator("body").press("ArrowRight")
    expect(teacher.locator("#lesson-step")).to_have_text("Step 3 of 8: Question 1: who waits? Block")
    expect(phone.locator("#room-notice")).to_contain_text("Step 3 of 8")
    wait_js(phone, "() => window.playground.lastFrame.scenario === undefined"
                   " || window.__frames.some(f => f.full && f.scenario && f.scenario.preset === 'background-jobs')")
    assert any(f.get("full") and f["scenario"]["preset"] == "background-jobs" for f in phone.evaluate("window.__frames"))
    expect(phone.locator("#question")).to_be_visible()  # the step's question is asked on every phone
    phone.screenshot(path=str(artifacts / "lesson-phone.png"))
    solo = new_page()
    solo.goto(f"{server.url}/lesson/handbook-in-fifteen-minutes")
    expect(solo.locator("#lesson-step")).to_have_text("Step 1 of 8: The handbook's example")
    solo.click("#lesson-next")
    expect(solo.locator("#lesson-step")).to_have_text("Step 2 of 8: The example as printed fails")
    solo.wait_for_url(lambda url: "preset=handbook-as-printed" in url)
