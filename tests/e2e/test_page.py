"""The playground page in a real browser (Debian's chromium) against a real server process.

The DOM ids and ``window.playground`` used here are the page contract (issue 4). Waits are
``expect`` / ``wait_for_function`` with ~10 s timeouts, never bare sleeps, so the suite holds
on a loaded 2-core machine.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from handbook_trace import HANDBOOK_TRACE
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

WAIT = 10_000  # ms
#: A first frame may wait for one load-shedding retry (the server answers 503, Retry-After 5 s).
FIRST_FRAME_WAIT = 15_000


# helpers ---------------------------------------------------------------------------------------


def _explain(page) -> str:
    """What the page shows now, for a failed wait."""
    try:
        return page.evaluate("""() => {
            const p = window.playground, f = p && p.lastFrame, s = document.getElementById('status');
            const n = document.getElementById('notice');
            return JSON.stringify({
              playground: p ? {frames: p.frames, firstDrawAt: p.firstDrawAt} : 'window.playground missing',
              last: f ? {n: f.n, t: f.t, status: f.status, link: f.link, queue_max: f.state && f.state.queue.max,
                         totals: f.state && f.state.totals, memory: f.state && f.state.memory} : null,
              status: s ? [s.dataset.state, s.innerText.slice(0, 200)] : 'no #status',
              notice: n ? n.innerText.slice(0, 200) : 'no #notice',
              url: location.href});
          }""")
    except Exception as error:  # noqa: BLE001
        return f"(could not read the page: {error})"


def wait_js(page, script: str, arg=None, timeout: int = WAIT, what: str = "") -> None:
    """page.wait_for_function, failing with what was awaited and what the page shows instead."""
    try:
        page.wait_for_function(script, arg=arg, timeout=timeout)
    except PlaywrightTimeout:
        shown = repr(arg) if len(repr(arg)) < 200 else repr(arg)[:200] + "…"
        pytest.fail(f"waited {timeout / 1000:.0f} s for {what or script} (arg={shown}); "
                    f"the page shows {_explain(page)}", pytrace=True)


def open_page(page, server, query: str = "", frames: int = 1):
    """Open ``/?query`` and wait until the page has received ``frames`` frames."""
    page.goto(server.url + "/" + (f"?{query}" if query else ""))
    wait_frames(page, frames, FIRST_FRAME_WAIT)
    return page


def wait_frames(page, count: int, timeout: int = WAIT) -> None:
    wait_js(page,
        "n => window.playground && window.playground.frames >= n && window.playground.lastFrame",
        arg=count, timeout=timeout, what=f"{count} frames")


def more_frames(page, extra: int, timeout: int = WAIT) -> None:
    """Wait for ``extra`` more frames than the page has now."""
    wait_frames(page, page.evaluate("window.playground.frames") + extra, timeout)


def last_frame(page) -> dict:
    return page.evaluate("window.playground.lastFrame")


def wait_frame(page, predicate_js: str, arg=None, timeout: int = WAIT) -> dict:
    """Wait until ``predicate_js`` (a function of (frame, arg)) holds for lastFrame; return it."""
    wait_js(page,
        f"([arg]) => {{ const f = window.playground && window.playground.lastFrame;"
        f" return !!f && ({predicate_js})(f, arg); }}", arg=[arg], timeout=timeout,
        what=f"a frame where {predicate_js}")
    return last_frame(page)


def full_frames(page) -> list[dict]:
    return page.evaluate("(window.__frames || []).filter(f => f.full)")


def field_values(page) -> dict[str, str]:
    return page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('[id^=field-]')].map(e => [e.id, e.value]))")


def set_field(page, key: str, value) -> None:
    """Set a control the way a slider drag ends: value, then input and change events."""
    page.eval_on_selector(
        f"#field-{key}",
        """(el, value) => {
             el.value = String(value);
             el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true}));
           }""",
        value)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


#: The #status data-state values the contract allows.
STATES = {"connecting", "live", "paused", "reconnecting", "ended", "full", "finished", "halted"}


def states_seen(page) -> list[str]:
    return page.evaluate("window.__states || []")


def status(page):
    return page.locator("#status")


def press(page, key: str) -> None:
    """A shortcut key with no control focused (shortcuts are ignored while typing in a field)."""
    page.evaluate("document.activeElement && document.activeElement.blur && document.activeElement.blur()")
    page.keyboard.press(key)


def step(page, how) -> dict:
    """One step (``how()`` clicks #step or presses '.'), waited for: a step moves the run to the
    next moment something happens, which may be at the same sim time (more events at t) or later."""
    t, events = page.evaluate("[window.playground.lastFrame.t, window.__eventCount]")
    how()
    wait_js(page, """([t, events]) => window.playground.lastFrame.t > t || window.__eventCount > events""",
            arg=[t, events], what="a step: the time moves on, or events at the same time arrive")
    return last_frame(page)


def step_until_later(page, how, tries: int = 10) -> dict:
    """Step until the sim time moves on (a few steps at most)."""
    t = last_frame(page)["t"]
    for _ in range(tries):
        frame = step(page, how)
        if frame["t"] > t:
            return frame
    pytest.fail(f"{tries} steps did not move the time on from {t}")


def event_log(page) -> list[str]:
    return page.locator("#event-log li").all_inner_texts()


@pytest.fixture(scope="module")
def presets(server):
    return httpx.get(server.url + "/api/presets", timeout=5).json()


# loading and drawing -------------------------------------------------------------------------


def test_page_loads_with_the_contract_elements_and_no_console_errors(page, server, artifacts, watcher):
    # No console error, not even a missing favicon (only the server's load-shedding 503 is let by).
    watcher.allowed = [pattern for pattern in watcher.allowed if "favicon" not in pattern.pattern]
    response = page.goto(server.url + "/")
    assert response.status == 200
    wait_frames(page, 3, FIRST_FRAME_WAIT)
    for selector in ["canvas#pipeline", "#charts", "#pause", "#step", "#reset", "#burst", "#drain",
                     "#speed", "#copy-link", "#presets", "#status", "#notice", "#questions",
                     "#event-log", "#pause-log", "#live-summary", "#shortcuts", "#theme"]:
        assert page.locator(selector).count() == 1, f"{selector} is missing"
    charts = page.locator("#charts canvas.chart")
    assert sorted(charts.evaluate_all("cs => cs.map(c => c.dataset.chart)")) == sorted(
        ["queue", "latency", "throughput", "outcomes", "memory"])
    # Every scenario field has a control, a label, an output.
    fields = httpx.get(server.url + "/api/fields", timeout=5).json()["fields"]
    for field in fields:
        key = field["key"]
        control = page.locator(f"#field-{key}")
        assert control.count() == 1, f"#field-{key} is missing"
        tag = control.evaluate("el => el.tagName.toLowerCase() + ':' + (el.type || '')")
        # The contract says range or select; a number box for the seed (0 to 2**32 - 1) is the
        # one sensible exception.
        allowed = ("input:range", "select:select-one") + (("input:number",) if key == "seed" else ())
        assert tag in allowed, f"#field-{key} is {tag}"
        assert page.locator(f"label[for=field-{key}]").count() == 1, f"no <label for=field-{key}>"
        assert page.locator(f"output#value-{key}").count() == 1, f"no <output id=value-{key}>"
    # The handbook's four questions, and whether any work is lost (every way, by name).
    assert page.locator("#questions li").count() == 5
    expect(page.locator("#live-summary")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#notice")).to_have_attribute("role", "alert")
    expect(status(page)).to_have_attribute("data-state", "live")
    expect(page.locator("#restart-session")).to_be_hidden()
    assert page.locator("#event-log").evaluate("el => el.tagName") == "OL"
    assert page.locator("#shortcuts").evaluate(
        "el => el.tagName === 'DIALOG' || el.getAttribute('role') === 'dialog'"), "#shortcuts is no dialog"
    # Every control has its hint, and a 0 that means something says so in its output.
    for field in fields:
        key = field["key"]
        hint = page.locator(f"#field-{key}").locator("xpath=ancestor::*[.//small][1]//small")
        assert hint.count() >= 1, f"#field-{key} has no hint <small>"
    # Backpressure within ten seconds without anyone touching anything: let it run a while
    # (faster, so the screenshot shows a filled queue), then take the default screenshot.
    page.select_option("#speed", "5")
    wait_frame(page, "f => f.t >= 12", timeout=WAIT)
    page.screenshot(path=str(artifacts / "default.png"))


def test_status_shows_only_the_contracts_states(page, server):
    open_page(page, server, frames=3)
    page.click("#pause")
    expect(status(page)).to_have_attribute("data-state", "paused")
    page.click("#pause")
    expect(status(page)).to_have_attribute("data-state", "live")
    unknown = [state for state in states_seen(page) if state not in STATES]
    assert not unknown, (f"#status showed data-state {unknown} (the contract allows {sorted(STATES)}); "
                         f"all states seen: {states_seen(page)}")


def test_frames_arrive_and_the_pipeline_canvas_changes(page, server):
    open_page(page, server, frames=2)
    first_count = page.evaluate("window.playground.frames")
    first_t = last_frame(page)["t"]
    image = page.evaluate("document.getElementById('pipeline').toDataURL()")
    more_frames(page, 10)
    assert page.evaluate("window.playground.frames") >= first_count + 10
    assert last_frame(page)["t"] > first_t
    wait_js(page, "before => document.getElementById('pipeline').toDataURL() !== before",
                           arg=image, timeout=WAIT)
    # The charts draw too, once windows arrive (one every 0.5 s of sim time).
    charts = page.evaluate("[...document.querySelectorAll('#charts canvas.chart')].map(c => c.toDataURL())")
    wait_js(page, """before => [...document.querySelectorAll('#charts canvas.chart')]
                     .filter((c, i) => c.toDataURL() !== before[i])
                     .map(c => c.dataset.chart).join(' ').match(/queue|latency|throughput/g)?.length === 3""",
            arg=charts, what="the queue, latency and throughput charts to change")
    # The polite live region says something within ~5 s.
    wait_js(page, "() => document.getElementById('live-summary').innerText.trim().length > 0",
            what="a summary in #live-summary")
    # Draws are measured, and the first one is timestamped.
    assert page.evaluate("window.playground.firstDrawAt") is not None
    assert page.evaluate("window.playground.drawTimes.length") > 0


# controls and links ---------------------------------------------------------------------------


def test_moving_the_queue_slider_changes_the_next_frames_and_the_address_bar(page, server):
    open_page(page, server, frames=2)
    assert last_frame(page)["state"]["queue"]["max"] != 5
    set_field(page, "queue", 5)
    wait_frame(page, "f => f.state.queue.max === 5")
    wait_js(page, "() => window.__linkSettings().get('queue') === '5'",
                           timeout=WAIT)
    expect(page.locator("#value-queue")).to_contain_text("5")
    # Later frames keep it.
    more_frames(page, 5)
    assert last_frame(page)["state"]["queue"]["max"] == 5
    # Zero means unbounded, and the output says so.
    set_field(page, "queue", 0)
    wait_frame(page, "f => f.state.queue.max === 0")
    expect(page.locator("#value-queue")).to_contain_text("unbounded")
    wait_js(page, "() => window.__linkSettings().get('queue') === '0'",
                           timeout=WAIT)


def test_outputs_show_value_unit_and_what_zero_means(page, server):
    fields = httpx.get(server.url + "/api/fields", timeout=5).json()["fields"]
    open_page(page, server, frames=2)
    for field in fields:
        if field["unit"] and field["kind"] != "choice":
            value = page.input_value(f"#field-{field['key']}")
            if value != "0":
                expect(page.locator(f"#value-{field['key']}")).to_contain_text(field["unit"])
    for field in fields:
        if field["zero_means"]:
            set_field(page, field["key"], 0)
            expect(page.locator(f"#value-{field['key']}")).to_contain_text(field["zero_means"])
    wait_frame(page, "f => f.state.semaphore.limit === 0 && f.state.downstream.capacity === 0"
                     " && f.state.memory.limit === 0")


def test_a_copied_link_restores_every_control(new_page, server):
    context_options = dict(permissions=["clipboard-read", "clipboard-write"])
    first = new_page(**context_options)
    open_page(first, server, "queue=7&policy=reject&rate=45&seed=9", frames=2)
    # Change more controls through the page itself.
    set_field(first, "workers", 3)
    set_field(first, "service_dist", "constant")
    set_field(first, "limit", 0)
    wait_frame(first, "f => f.state.workers.length === 3 && f.state.semaphore.limit === 0")
    wait_js(first,
        "() => { const q = window.__linkSettings();"
        " return q.get('workers') === '3' && q.get('service_dist') === 'constant' && q.get('limit') === '0'; }",
        timeout=WAIT)
    first.click("#copy-link")
    wait_js(first, "() => navigator.clipboard.readText().then(t => t.length > 0)", timeout=WAIT)
    copied = first.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(("http://", "https://")), f"the copied link is not absolute: {copied!r}"
    assert query_of(copied) == query_of(first.url), (copied, first.url)
    expected = field_values(first)
    assert expected["field-queue"] == "7" and expected["field-policy"] == "reject"
    assert expected["field-workers"] == "3" and expected["field-seed"] == "9"

    # The changes were made during the run: the link has them as do= entries at their times, and
    # the second page's controls follow as its run reaches each one.
    # (A change that lands before the run has moved from t = 0 is its start instead: a key.)
    log = query_of(copied).get("do", "")
    last = max((float(entry.split(":")[0]) for entry in log.split(",") if entry), default=0.0)
    second = new_page()
    second.goto(copied)
    wait_frames(second, 1, FIRST_FRAME_WAIT)
    wait_frame(second, "(f, t) => f.t > t", arg=last)
    full = full_frames(second)[0]  # the stream's first frame: the run's start
    assert full["scenario"]["queue"] == 7
    if ":workers=3" in log:
        assert full["scenario"]["workers"] == 4  # the start, as the link says
    wait_js(second, "() => document.querySelector('#field-workers').value === '3'", what="the log's workers=3")
    assert field_values(second) == expected
    assert query_of(second.url) == query_of(copied)


def test_the_same_link_gives_the_same_frames(new_page, server):
    pages = [new_page(), new_page()]
    for one in pages:
        open_page(one, server, "preset=handbook")
        wait_frame(one, "f => f.status === 'paused' && f.t === 0")  # the handbook opens paused
        one.click("#pause")  # play it
    firsts = [full_frames(one)[0] for one in pages]
    assert firsts[0]["link"] == firsts[1]["link"] and "preset=handbook" in firsts[0]["link"]
    assert firsts[0]["scenario"] == firsts[1]["scenario"]
    logs = []
    for one in pages:
        wait_js(one,
            "() => { const li = document.querySelectorAll('#event-log li');"
            " return li.length >= 21 && li[li.length - 1].innerText.trim() === '0.450 worker-2 shutdown'; }",
            timeout=WAIT)
        logs.append([line.strip() for line in event_log(one)][-21:])
    assert logs[0] == logs[1]
    # A seeded, random scenario: the same link shows the same frames in both pages (paused
    # at the start, stepped the same way).
    link = "rate=40&queue=3&workers=2&limit=1&policy=drop-oldest&seed=7"
    for one in pages:
        open_page(one, server, link)
        one.click("#pause")
        expect(status(one)).to_have_attribute("data-state", "paused")
        one.click("#reset")
        wait_frame(one, "f => f.t === 0 && f.status === 'paused'")
        for _ in range(5):
            step(one, lambda: one.click("#step"))
    states = [last_frame(one) for one in pages]
    assert states[0]["t"] == states[1]["t"]
    assert states[0]["state"] == states[1]["state"]


def test_each_preset_loads(page, server, presets):
    open_page(page, server)
    options = page.locator("#presets option").evaluate_all("os => os.map(o => o.value)")
    for preset in presets:
        assert preset["name"] in options, f"#presets has no option {preset['name']}"
    for preset in presets:
        name = preset["name"]
        page.select_option("#presets", name)
        wait_js(page,
            "name => (window.__frames || []).some(f => f.full && f.link.includes('preset=' + name))"
            " && window.playground.lastFrame && (window.playground.lastFrame.link === undefined"
            " || window.playground.lastFrame.link.includes('preset=' + name))",
            arg=name, timeout=WAIT)
        wait_js(page, "name => location.search.includes('preset=' + name)", arg=name,
                               timeout=WAIT)
        expect(page.locator("#preset-notice")).to_contain_text(preset["notice"][:60])


# pause, step, burst, drain --------------------------------------------------------------------


def test_pause_step_burst_and_drain(page, server):
    open_page(page, server, frames=3)
    expect(status(page)).to_have_attribute("data-state", "live")
    page.click("#pause")
    expect(status(page)).to_have_attribute("data-state", "paused")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    paused = wait_frame(page, "f => f.status === 'paused'")
    more_frames(page, 8)  # frames keep coming while paused, with the clock stopped
    assert last_frame(page)["t"] == paused["t"]

    stepped = step_until_later(page, lambda: page.click("#step"))
    assert stepped["status"] == "paused" and stepped["t"] > paused["t"]
    more_frames(page, 4)
    assert last_frame(page)["t"] == stepped["t"]

    page.click("#pause")  # resume
    expect(status(page)).to_have_attribute("data-state", "live")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "false")
    wait_frame(page, "(f, t) => f.status === 'running' && f.t > t", stepped["t"])

    arrived = last_frame(page)["state"]["totals"]["arrived"]
    page.click("#burst")
    wait_frame(page, "(f, a) => f.state.totals.arrived >= a + 20", arrived)

    page.click("#drain")
    wait_frame(page, "f => f.state.draining || f.status === 'finished'")
    expect(status(page)).to_have_attribute("data-state", "finished", timeout=15_000)
    final = wait_frame(page, "f => f.status === 'finished'")
    assert final["state"]["totals"]["in_system"] == 0
    assert all(worker[1] == "i" for worker in final["state"]["workers"]) or not final["state"]["workers"]
    log = "\n".join(event_log(page))
    for index in range(4):
        assert f"worker-{index} shutdown" in log, f"no 'worker-{index} shutdown' in the event log"


# A bad link keeps its valid keys and names every bad key, with the address bar untouched and no
# 422 in the console: tests/e2e/test_page_fixes.py::test_a_bad_link_keeps_its_valid_keys_and_names_every_bad_key


# keyboard -------------------------------------------------------------------------------------


def test_keyboard_shortcuts(page, server):
    open_page(page, server, frames=3)
    press(page, "Space")
    expect(status(page)).to_have_attribute("data-state", "paused")
    paused = wait_frame(page, "f => f.status === 'paused'")
    stepped = step_until_later(page, lambda: press(page, "."))
    assert stepped["status"] == "paused" and stepped["t"] > paused["t"]
    press(page, "Space")
    expect(status(page)).to_have_attribute("data-state", "live")
    running = wait_frame(page, "f => f.status === 'running'")
    press(page, "b")
    wait_frame(page, "(f, a) => f.state.totals.arrived >= a + 20", running["state"]["totals"]["arrived"])
    wait_frame(page, "f => f.t >= 1.5")
    press(page, "r")
    wait_frame(page, "f => f.t < 1.0")
    shortcuts = page.locator("#shortcuts")
    expect(shortcuts).to_be_hidden()
    press(page, "?")
    expect(shortcuts).to_be_visible()
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()


# a server restart -------------------------------------------------------------------------------


def test_the_page_survives_a_server_restart(new_page, restartable_server, watcher):
    # While the server is away the browser logs its failed requests (connection refused, 404/410
    # for the old session): those are the browser's lines, not the page's errors.
    watcher.allow(r"Failed to load resource|net::ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|"
                  r"ERR_INCOMPLETE_CHUNKED_ENCODING")
    first = restartable_server()
    page = new_page()
    open_page(page, first, frames=3)
    port = first.port
    first.stop()
    second = restartable_server(port)
    assert second.port == port
    before = page.evaluate("window.playground.frames")
    # Either the page reconnects by itself (a new session, frames flow), or it says the
    # session ended and offers a new one.
    wait_js(page,
        """before => {
             const s = document.getElementById('status');
             const f = window.playground.lastFrame;
             const flowing = window.playground.frames > before + 5 && f && f.status === 'running';
             return flowing || (s && s.dataset.state === 'ended');
           }""", arg=before, timeout=20_000)
    print(f"\nafter the restart the page showed: {states_seen(page)}")
    if page.locator("#status").get_attribute("data-state") == "ended":
        restart = page.locator("#restart-session")
        expect(restart).to_be_visible()
        before = page.evaluate("window.playground.frames")
        restart.click()
        wait_js(page, "before => window.playground.frames > before + 5", arg=before,
                               timeout=WAIT)
    expect(status(page)).to_have_attribute("data-state", "live")
    assert second.healthz()["sessions"] >= 1
    more_frames(page, 5)
    assert last_frame(page)["status"] == "running"


# the handbook ---------------------------------------------------------------------------------


def test_handbook_event_log_is_the_handbook_trace(page, server, artifacts):
    open_page(page, server, "preset=handbook")
    wait_frame(page, "f => f.status === 'paused' && f.t === 0")  # the handbook opens paused at t = 0
    page.click("#pause")  # play it
    wait_js(page,
        "() => { const li = document.querySelectorAll('#event-log li');"
        " return li.length >= 21 && [...li].some(e => e.innerText.trim() === '0.450 worker-2 shutdown'); }",
        timeout=WAIT)
    lines = [line.strip() for line in event_log(page)]
    if lines[-21:] != HANDBOOK_TRACE and lines[:21] == HANDBOOK_TRACE[::-1]:
        pytest.fail("the event log shows the handbook trace newest first; the contract wants it "
                    "in the program's order, oldest first")
    assert lines[-21:] == HANDBOOK_TRACE
    expect(status(page)).to_have_attribute("data-state", "finished")
    page.screenshot(path=str(artifacts / "handbook.png"))
    page.locator("#event-log").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "handbook-event-log.png"))


# screenshots ----------------------------------------------------------------------------------


def test_unbounded_oom_crashes_and_says_so(page, server, artifacts):
    open_page(page, server, "preset=unbounded-oom")
    page.select_option("#speed", "5")
    wait_frame(page, "f => f.speed === 5")
    crashed = wait_frame(page, "f => f.state.memory.crashes >= 1", timeout=20_000)
    page.screenshot(path=str(artifacts / "unbounded-oom-crash.png"))
    assert crashed["state"]["memory"]["limit"] == 500
    assert crashed["state"]["totals"]["lost"] > 0
    kinds = page.evaluate("(window.__frames || []).flatMap(f => f.events.map(e => e[1]))")
    assert "crash" in kinds
    assert "out of memory" in "\n".join(event_log(page))


def test_phone_view_fits_390_px(new_page, server, artifacts):
    page = new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                    has_touch=True)
    open_page(page, server, frames=10)
    wait_frame(page, "f => f.t >= 3")  # the queue has filled: backpressure shows
    overflow = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(artifacts / "phone-390.png"))
    page.screenshot(path=str(artifacts / "phone-390-full.png"), full_page=True)
    assert overflow <= 390, f"the page is {overflow} px wide on a 390 px phone (horizontal scroll)"
    canvas_width = page.evaluate("document.getElementById('pipeline').getBoundingClientRect().width")
    assert 300 <= canvas_width <= 390


def test_projector_theme(page, server, artifacts):
    open_page(page, server, frames=3)
    page.select_option("#theme", "projector")
    wait_js(page, "() => document.documentElement.dataset.theme === 'projector'",
                           timeout=WAIT)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    wait_frame(page, "f => f.t >= 3")  # the queue has filled: backpressure shows
    page.screenshot(path=str(artifacts / "projector.png"))
    page.select_option("#theme", "light")
    wait_js(page, "() => document.documentElement.dataset.theme === 'light'", timeout=WAIT)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != background, \
        "the projector theme looks the same as the light theme"


def test_no_request_leaves_the_origin(page, server):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_page(page, server, frames=3)
    foreign = [url for url in requests
               if not url.startswith(server.url) and not url.startswith("data:")]
    assert not foreign, foreign
    assert re.search(r"/api/sessions/[^/]+/stream", " ".join(page.evaluate("window.__sources")))


def test_markup_has_no_inline_code_and_modules_keep_their_interface(page, server):
    html = httpx.get(server.url + "/", timeout=5).text
    # Only JSON data blocks (never executed) may have a body.
    assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>\s*\S", html), \
        "an inline <script> body"
    assert not re.search(r"\sstyle=", html), "a style= attribute"
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "a URL to another origin"
    open_page(page, server)
    shape = page.evaluate("""async () => {
        const pipeline = await import('/static/js/pipeline.js');
        const charts = await import('/static/js/charts.js');
        const proto = (cls, names) => names.filter(n => typeof cls?.prototype?.[n] !== 'function');
        return {
          pipeline: proto(pipeline.Pipeline, ['setFrame', 'draw']),
          charts: proto(charts.Charts, ['reset', 'add', 'draw']),
        };
      }""")
    assert shape == {"pipeline": [], "charts": []}, f"methods missing: {shape}"
