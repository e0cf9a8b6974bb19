"""A class survives its server being killed (issue 22: "kill -9 mid-lesson, then a restart").

A real server with a state file runs the shipped lesson in a room: the presenter at 1280x720 on
``/present?lesson=...``, two phones at 390x844 on ``/r/CODE``. The teacher moves on two steps,
presses Hiccup, the phones answer the step's question; then the server is killed with SIGKILL and
a new one started on the same port with the same ``--state``. Within 10 s the teacher's page and
both phones show frames again -- the same session id, the same room code, the same step, the
answers still counted -- the teacher's token still drives (a pause reaches the phones, then the
next step), and the run paused there equals ``python -m playground run LINK --until T --json``
with the hiccup the teacher pressed: the run was rebuilt, not started again.

Screenshots: tests/e2e/artifacts/restart-{teacher,phone-1,phone-2}.png after the restart.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
from playwright.sync_api import expect
from test_page import wait_js
from test_whole_lesson import LESSON, PHONE

from server_helpers import ROOT

#: The brief's bound, from the kill to frames on every page again.
BACK_WITHIN = 10.0


def _allow_outage(watcher, port: int, session: str, code: str) -> None:
    """Chromium's lines for the requests the pages make while their server is away."""
    origin = re.escape(f"http://127.0.0.1:{port}")
    paths = rf"({origin}/api/sessions/{re.escape(session)}/\w+|{origin}/api/rooms/{code}/\w+|{origin}/api/\w+.*)"
    watcher.allow(rf"^console error: Failed to load resource: net::ERR_(CONNECTION_REFUSED|INCOMPLETE_CHUNKED_ENCODING"
                  rf"|EMPTY_RESPONSE|CONNECTION_RESET) \({paths}:")


def _frames(page) -> int:
    return page.evaluate("(window.__frames || []).length")


def _stored_hiccups(path, session: str) -> tuple[str, list[tuple[float, dict]]]:
    """Service A's first link and its logged controls, as the state file holds them."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        state = json.loads(db.execute("SELECT state FROM sessions WHERE id = ?", (session,)).fetchone()[0])
        rows = db.execute("SELECT t, control FROM controls WHERE session = ? AND side = 0 ORDER BY seq",
                          (session,)).fetchall()
    return state["sides"][0]["initial"], [(t, json.loads(control)) for t, control in rows]


def test_a_lesson_goes_on_after_kill_9(restartable_server, new_page, watcher, tmp_path, artifacts):
    state = tmp_path / "state.sqlite3"
    first = restartable_server(state=state, grace=30)
    teacher = new_page(viewport={"width": 1280, "height": 720})
    teacher.goto(f"{first.url}/present?lesson={LESSON}")
    wait_js(teacher, "() => /^[A-Z2-9]{6}$/.test(document.querySelector('#join-code').textContent)",
            what="the join screen's code")
    code = teacher.inner_text("#join-code")
    phones = []
    for n in (1, 2):
        phone = new_page(**PHONE)
        phone.goto(f"{first.url}/r/{code}")
        expect(teacher.locator("#join-watching")).to_have_text(f"{n} phone{'s' if n > 1 else ''} joined")
        phones.append(phone)
    teacher.click("#join-start")
    for _ in range(2):  # step 3: background jobs, a run that goes on, with a question
        teacher.locator("body").press("ArrowRight")
    expect(teacher.locator("#lesson-step")).to_contain_text("Step 3 of 8")
    for phone in phones:
        expect(phone.locator("#room-notice")).to_contain_text("Step 3 of 8")
    session = re.search(r"/api/sessions/([^/]+)/stream$", teacher.evaluate("window.__sources.at(-1)")).group(1)
    _allow_outage(watcher, first.port, session, code)
    wait_js(teacher, "() => window.playground.lastFrame.t > 2", what="2 s of the step's run")
    teacher.locator("body").press("h")  # Hiccup: the downstream 5 times slower for 3 s
    for number, phone in enumerate(phones, start=1):
        expect(phone.locator("#question")).to_be_visible()
        phone.locator("#question-number").fill(str(100 * number))
        phone.locator("#question-answers button").first.click()
    expect(teacher.locator("#question-status")).to_contain_text("2 answered")
    wait_js(teacher, "() => window.playground.lastFrame.t > 6", what="6 s of the step's run")
    teacher.wait_for_timeout(2500)  # a checkpoint of the sim time reached (every 2 s)
    before = teacher.evaluate("window.playground.lastFrame.t")

    first.signal(signal.SIGKILL)
    first.process.wait(5)
    killed = time.monotonic()
    counts = [_frames(page) for page in (teacher, *phones)]
    second = restartable_server(first.port, state=state, grace=30)

    # Every page is back on its own, with frames of the same run and room.
    for page, count in zip((teacher, *phones), counts):
        wait_js(page, "n => (window.__frames || []).length > n + 3", arg=count,
                timeout=int(max(1, BACK_WITHIN - (time.monotonic() - killed)) * 1000), what="frames after the restart")
    back = time.monotonic() - killed
    print(f"every page showed frames again {back:.1f} s after the kill")
    assert back <= BACK_WITHIN, f"the pages took {back:.1f} s to show frames again"
    assert re.search(rf"/api/sessions/{session}/stream$", teacher.evaluate("window.__sources.at(-1)")), \
        "the teacher's page started another session"
    expect(teacher.locator("#status")).to_have_attribute("data-state", "live")
    resumed = teacher.evaluate("window.playground.lastFrame")
    assert resumed["room"]["code"] == code and resumed["room"]["step"]["index"] == 2
    assert resumed["t"] >= before - 2.5, f"the run came back at {resumed['t']} s, it had reached {before} s"
    assert resumed["room"]["question"]["answered"] == 2, resumed["room"]["question"]
    for phone in phones:
        expect(phone.locator("#room-status")).to_have_text(re.compile(r"^Live: "))
        expect(phone.locator("#room-notice")).to_contain_text("Step 3 of 8")
    teacher.screenshot(path=str(artifacts / "restart-teacher.png"))
    for number, phone in enumerate(phones, start=1):
        phone.screenshot(path=str(artifacts / f"restart-phone-{number}.png"), full_page=True)

    # The teacher still drives: a pause reaches the phones...
    teacher.click("#pause")
    for phone in phones:
        expect(phone.locator("#room-status")).to_have_text("Paused by the teacher.")
    summary = httpx.get(f"{second.url}/api/sessions/{session}/summary", timeout=5).json()
    # ...and the run paused there is the uninterrupted run of its link and its hiccup.
    link, controls = _stored_hiccups(state, session)
    assert [control["action"] for _, control in controls] == ["hiccup"], controls
    (at, hiccup), = controls
    cli = subprocess.run(
        [sys.executable, "-m", "playground", "run", link, "--until", repr(summary["sim_time"]), "--json",
         "--hiccup", f"{at!r}:{hiccup['factor']}:{hiccup['seconds']}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    uninterrupted = json.loads(cli.stdout)
    differ = {key: (summary[key], uninterrupted[key]) for key in uninterrupted
              if key in summary and summary[key] != uninterrupted[key]}
    assert not differ, f"the restored run differs from the uninterrupted one: {differ}"
    # ...then the next step reaches them too.
    teacher.locator("body").press("ArrowRight")
    for phone in phones:
        expect(phone.locator("#room-notice")).to_contain_text("Step 4 of 8")
