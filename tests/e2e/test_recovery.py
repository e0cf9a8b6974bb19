"""The page gets its scenario back by itself after the server restarts (no click).

A real server is killed under an open page, and a new one starts on the same port: the page must
say it is reconnecting (with its attempt count and backoff, announced politely), then create a new
session from the link it shows (with the person's live changes, speed and pause) and show frames
again. Waits are ``expect`` / ``wait_for_function`` with timeouts, never bare sleeps.

While the server is away the browser logs its failed requests to the console (connection refused
for the page's retries, 404 for the old session's stream once the new server answers). Those are
chromium's own lines about requests the page makes on purpose, not page errors: each test allows
exactly those lines, for exactly those URLs (the port and the old session id), and nothing else.
"""

from __future__ import annotations

import re
import signal
import time

from playwright.sync_api import expect
from test_page import (
    FIRST_FRAME_WAIT,
    full_frames,
    open_page,
    query_of,
    set_field,
    states_seen,
    status,
    wait_frame,
    wait_js,
)

QUERY = "preset=webhook-ingestion&queue=7"
#: The brief's bound: frames flow again within this long of the new server answering.
RECOVERY_WAIT = 15_000  # ms
WAIT_FULL = 15_000  # ms

#: Every #status-text the page shows, with its time, so the test can read the backoff (as a
#: function to evaluate now, or an init script for a page still to load).
RECORD_STATUS = """() => {
  window.__statusLog = [];
  const watch = () => {
    const node = document.getElementById('status-text');
    if (!node) return;  // another page (about:blank)
    const note = () => window.__statusLog.push([performance.now(), node.textContent]);
    note();
    new MutationObserver(note).observe(node, {childList: true, characterData: true, subtree: true});
  };
  if (document.getElementById('status-text')) watch();
  else document.addEventListener('DOMContentLoaded', watch);
}"""

#: Makes the page believe its tab is hidden or shown (document.hidden, then visibilitychange).
SET_HIDDEN = """hidden => {
  if (!('__hidden' in window)) {
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => window.__hidden});
  }
  window.__hidden = hidden;
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def stream_session(page) -> str:
    """The session id of the stream the page opened last."""
    url = page.evaluate("window.__sources[window.__sources.length - 1]")
    match = re.search(r"/api/sessions/([^/]+)/stream$", url)
    assert match, url
    return match.group(1)


def allow_outage_lines(watcher, port: int, old: str) -> None:
    """Chromium's lines for the requests a page makes while its server is away, and no others."""
    origin = re.escape(f"http://127.0.0.1:{port}")
    old_session = rf"{origin}/api/sessions/{re.escape(old)}"
    # Retries that find nobody listening: the old session's stream, or a new session.
    watcher.allow(rf"^console error: Failed to load resource: net::ERR_CONNECTION_REFUSED "
                  rf"\(({old_session}/stream|{origin}/api/sessions):")
    # The new server does not know the old session: that 404 is how the page learns it.
    watcher.allow(rf"^console error: Failed to load resource: the server responded with a status of "
                  rf"404 \(Not Found\) \({old_session}/(stream|control):")
    # The killed server's stream ends mid-chunk.
    watcher.allow(rf"^console error: Failed to load resource: net::ERR_(INCOMPLETE_CHUNKED_ENCODING|"
                  rf"EMPTY_RESPONSE) \({old_session}/stream:")


def open_watched_page(new_page, restartable_server, watcher):
    """A page running QUERY on a fresh server, with the console lines of that server's
    outage allowed; returns (server, page, the page's session id)."""
    first = restartable_server()
    page = new_page()
    open_page(page, first, QUERY, frames=3)
    old = stream_session(page)
    allow_outage_lines(watcher, first.port, old)
    return first, page, old


def attempts(page) -> list[tuple[float, int]]:
    """(time in s, attempt number) each time the status said an attempt was being made."""
    log = page.evaluate("window.__statusLog")
    seen = []
    for at, text in log:
        match = re.search(r"attempt (\d+), trying now", text)
        if match and (not seen or seen[-1][1] != int(match.group(1))):
            seen.append((at / 1000, int(match.group(1))))
    return seen


def test_the_page_recreates_its_session_after_the_server_is_killed(new_page, restartable_server,
                                                                      watcher):
    first, page, old = open_watched_page(new_page, restartable_server, watcher)
    port = first.port
    # A speed the person chose is kept across the restart.
    page.select_option("#speed", "2")
    wait_frame(page, "f => f.speed === 2")
    page.evaluate(RECORD_STATUS)

    first.signal(signal.SIGKILL)
    first.process.wait(5)
    killed_at = time.monotonic()

    # The page says so, politely, and needs no click.
    expect(status(page)).to_have_attribute("data-state", "reconnecting", timeout=5_000)
    expect(page.locator("#status-text")).to_have_text(
        re.compile(r"^Reconnecting to the server… \(attempt \d+, (trying now|next try in \d+ s)\)"))
    announcer = page.locator("#status-announce")
    expect(announcer).to_have_attribute("aria-live", "polite")
    expect(announcer).to_contain_text("Reconnecting automatically")
    expect(page.locator("#restart-session")).to_be_hidden()
    # It backs off while the server is away: wait until the third attempt has been made.
    wait_js(page, "() => /attempt ([4-9]|\\d\\d), next try in/.test("
                  "document.getElementById('status-text').textContent)",
            timeout=10_000, what="the third attempt to have failed")
    frames_while_down = page.evaluate("window.playground.frames")

    second = restartable_server(port)
    up_at = time.monotonic()
    wait_js(page,
        """([old, before]) => {
             const url = window.__sources[window.__sources.length - 1];
             const f = window.playground.lastFrame;
             return !url.includes('/' + old + '/') && window.playground.frames >= before + 5
               && f && f.status === 'running';
           }""", arg=[old, frames_while_down], timeout=RECOVERY_WAIT,
        what="frames from a new session")
    resumed_after = time.monotonic() - up_at
    new = stream_session(page)
    assert new != old

    # The new session runs the scenario the page showed: same link, queue 7, and the same speed.
    full = full_frames(page)[-1]
    assert full["scenario"]["queue"] == 7, full["scenario"]
    assert full["scenario"]["preset"] == "webhook-ingestion"
    assert query_of(page.url).get("queue") == "7" and query_of(page.url).get("preset") == "webhook-ingestion"
    wait_frame(page, "f => f.speed === 2")
    assert page.input_value("#speed") == "2"
    expect(status(page)).to_have_attribute("data-state", "live")
    expect(page.locator("#status-text")).to_have_text(re.compile(r"^Live: "))
    expect(announcer).to_contain_text("Reconnected")
    expect(page.locator("#restart-session")).to_be_hidden()
    assert second.healthz()["sessions"] >= 1

    # The backoff: every gap at least the doubling schedule (less 20 % jitter), none over 10 s,
    # and a handful of attempts in all, not one a second.
    made = attempts(page)
    gaps = [later[0] - earlier[0] for earlier, later in zip(made, made[1:])]
    expected = [min(10.0, 0.5 * 2 ** (k + 1)) for k in range(len(gaps))]  # 1 s, 2, 4…
    print(f"\nattempts at {[round(at - made[0][0], 2) for at, _ in made]} s; gaps {gaps}; "
          f"down {up_at - killed_at:.1f} s, frames again {resumed_after:.1f} s after the new "
          f"server answered; states {states_seen(page)}")
    assert len(made) >= 3, made
    for gap, floor in zip(gaps, expected):
        assert 0.8 * floor - 0.05 <= gap <= 10.5, (gaps, expected)
    assert len(made) <= 8, made


def test_live_changes_pause_and_changes_made_while_away_are_kept(new_page, restartable_server,
                                                                  watcher):
    first, page, old = open_watched_page(new_page, restartable_server, watcher)
    port = first.port
    # A live change: the address bar follows it, and that link is what comes back.
    set_field(page, "queue", 9)
    wait_js(page, "() => window.__linkSettings().get('queue') === '9'",
            what="the address bar to show queue=9")
    wait_frame(page, "f => f.state && f.state.queue.max === 9")
    page.click("#pause")
    expect(status(page)).to_have_attribute("data-state", "paused")

    first.stop()  # SIGTERM: the server says "bye" on the stream before it goes
    expect(status(page)).to_have_attribute("data-state", "reconnecting", timeout=5_000)
    # A change made while the server is away is kept and sent once a session is back.
    set_field(page, "workers", 2)
    expect(page.locator("#error-workers")).to_have_text("")
    frames_while_down = page.evaluate("window.playground.frames")

    second = restartable_server(port)
    wait_js(page,
        """([old, before]) => {
             const url = window.__sources[window.__sources.length - 1];
             const f = window.playground.lastFrame;
             return !url.includes('/' + old + '/') && window.playground.frames >= before + 3
               && f && f.status === 'paused';
           }""", arg=[old, frames_while_down], timeout=RECOVERY_WAIT,
        what="a new session, paused as the page was")
    first_new = full_frames(page)[-1]
    assert first_new["scenario"]["queue"] == 9 and first_new["scenario"]["preset"] == "webhook-ingestion"
    expect(status(page)).to_have_attribute("data-state", "paused")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    wait_js(page, "() => window.__linkSettings().get('workers') === '2'",
            what="the change made while away to reach the new session and the address bar")
    assert page.evaluate("window.__linkSettings().get('queue')") == "9"
    # The new session is the same run, rebuilt at the moment the page had reached (at=).
    assert first_new["t"] > 0
    # Resume: frames run again on the new session.
    page.click("#pause")
    wait_frame(page, "f => f.status === 'running'")
    expect(status(page)).to_have_attribute("data-state", "live")
    assert second.healthz()["sessions"] >= 1


def test_long_links_are_shortened_in_messages(page, server, watcher):
    value = "9" * 3000
    page.goto(f"{server.url}/?queue={value}")
    wait_js(page, "() => window.playground && window.playground.frames >= 1",
            timeout=FIRST_FRAME_WAIT, what="a first frame")
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    text = notice.inner_text()
    assert "queue" in text and "…" in text, text
    assert value not in text and len(text) < 500, f"{len(text)} characters: {text[:300]}…"
    print(f"\nthe notice: {text}")
    # No run of more than ~120 characters without a space (a link or a value, with its quotes and
    # punctuation) anywhere in the status or notice.
    for selector in ("#notice", "#status-text"):
        shown = page.locator(selector).inner_text()
        assert not re.search(r"\S{126,}", shown), (selector, shown[:200])
    # The defaults run; the address bar keeps the person's link (with its error) so it can be fixed.
    assert full_frames(page)[-1]["link"] == "v=1"
    assert page.evaluate("location.search") == f"?queue={value}"


def test_a_control_answered_404_starts_the_scenario_again(page, server, watcher):
    open_page(page, server, QUERY, frames=3)
    old = stream_session(page)
    watcher.allow(rf"^console error: Failed to load resource: the server responded with a status of "
                  rf"404 \(Not Found\) \({re.escape(server.url)}/api/sessions/{re.escape(old)}/control:")
    # The server forgets the session (as after a restart) but its stream does not say so yet:
    # the next control answers 404, the server's own answer for an unknown session.
    page.route(f"**/api/sessions/{old}/control", lambda route: route.fulfill(
        status=404, content_type="application/json",
        body='{"error": "there is no session with that id; start a new one."}'))
    set_field(page, "queue", 12)
    wait_js(page,
        """old => {
             const url = window.__sources[window.__sources.length - 1];
             const f = window.playground.lastFrame;
             return !url.includes('/' + old + '/') && f && f.status === 'running'
               && f.state && f.state.queue.max === 12
               && window.__linkSettings().get('queue') === '12';
           }""", arg=old, timeout=RECOVERY_WAIT,
        what="a new session with the change the 404 interrupted")
    assert full_frames(page)[-1]["scenario"]["preset"] == "webhook-ingestion"
    expect(status(page)).to_have_attribute("data-state", "live")
    expect(page.locator("#error-queue")).to_have_text("")
    expect(page.locator("#restart-session")).to_be_hidden()


def test_a_hidden_tab_waits_to_reconnect_until_it_is_shown(new_page, restartable_server, watcher):
    first, page, old = open_watched_page(new_page, restartable_server, watcher)
    port = first.port
    page.evaluate(SET_HIDDEN, True)
    first.signal(signal.SIGKILL)
    first.process.wait(5)
    expect(status(page)).to_have_attribute("data-state", "reconnecting", timeout=5_000)
    expect(page.locator("#status-text")).to_contain_text("when this tab is shown again")
    restartable_server(port)
    sources, frames = page.evaluate("[window.__sources.length, window.playground.frames]")
    # A negative check needs a little time: the server is back, yet a hidden tab makes no attempt.
    page.wait_for_timeout(1_500)
    assert page.evaluate("[window.__sources.length, window.playground.frames]") == [sources, frames]
    expect(page.locator("#status-text")).to_contain_text("when this tab is shown again")
    page.evaluate(SET_HIDDEN, False)
    wait_js(page,
        """([old, before]) => {
             const url = window.__sources[window.__sources.length - 1];
             return !url.includes('/' + old + '/') && window.playground.frames >= before + 3;
           }""", arg=[old, frames], timeout=RECOVERY_WAIT, what="frames once the tab is shown")
    expect(status(page)).to_have_attribute("data-state", "live")


def test_a_full_server_is_retried_after_its_retry_after(new_page, server_with):
    server = server_with(max_sessions=1)
    one = new_page()
    open_page(one, server, QUERY, frames=2)
    two = new_page()
    two.add_init_script(script=f"({RECORD_STATUS})()")
    two.goto(f"{server.url}/?{QUERY}")
    # 503 with Retry-After (the full server's 10 s, or 5 s when it sheds load for being busy).
    expect(status(two)).to_have_attribute("data-state", "full", timeout=WAIT_FULL)
    expect(two.locator("#status-text")).to_have_text(
        re.compile(r"^The server is full: .* Retrying… \(attempt 2, next try in (5|10|9|4) s\)$"))
    one.goto("about:blank")  # pagehide: that page closes its session, so there is room
    wait_js(two, "() => window.playground && window.playground.frames >= 3 && window.playground.lastFrame",
            timeout=20_000, what="frames once there is room")
    log = two.evaluate("window.__statusLog")
    full_at, said = next((at, text) for at, text in log if text.startswith("The server is full"))
    retry_after = int(re.search(r"next try in (\d+) s", said).group(1))
    tried_at = next(at for at, text in log if "attempt 2, trying now" in text)
    print(f"\nRetry-After {retry_after} s; the second attempt came {(tried_at - full_at) / 1000:.2f} s later")
    assert (tried_at - full_at) / 1000 >= retry_after - 1.05
    expect(status(two)).to_have_attribute("data-state", "live")
