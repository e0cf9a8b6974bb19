"""Browser tests: Playwright for Python driving chromium against a real server process.

- ``server``: one ``python -m playground`` for the whole session (a free port, generous caps since
  every page comes from 127.0.0.1), polled until ``/healthz`` answers, terminated at the end; its
  log must show no traceback and no ERROR line.
- ``make_server``-style ``restartable_server`` for a test that stops and restarts a server on the
  same port; ``server_with(**settings)`` for a server with other settings (``max_sessions=1``).
- ``browser``: chromium found by ``browser_setup.py``: ``$PLAYGROUND_CHROMIUM``, else ``chromium``
  (``chromium-browser``, ``google-chrome``) on ``PATH``, else Playwright's own download. If none
  launches the tests FAIL, never skip, with one sentence saying what to install
  (``python tests/e2e/browser_setup.py --install``, part of the README's test command, does it).
- ``page``: a fresh context and page; console errors and uncaught page errors fail the test.
  Every ``EventSource`` frame is also recorded in ``window.__frames`` (an init script wraps
  ``EventSource``), so a test can see the first, full frame after later ones replaced
  ``window.playground.lastFrame``.

Screenshots go to ``tests/e2e/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browser_setup import BrowserMissing, launch
from server_helpers import Server

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

#: Every page comes from 127.0.0.1, and pages are opened faster than sessions are reaped.
SERVER_ENV = dict(max_sessions=500, max_sessions_per_client=500, max_rooms_per_client=50, grace=5,
                  control_burst=200, control_rate=100)

#: Wraps EventSource so the tests see every frame (the page keeps only the newest).
RECORD_FRAMES = """
// The settings the address bar's link leads to: its keys with every setting of its do= log
// (service A's) applied, as a URLSearchParams (a link is the whole run: a slider moved at 3 s is
// an entry of do=, not a key).
window.__linkSettings = (search = location.search) => {
  const q = new URLSearchParams(search);
  const log = q.get('do');
  q.delete('do');
  q.delete('at');
  for (const entry of (log ? log.split(',') : [])) {
    const what = entry.slice(entry.indexOf(':') + 1);
    if (/^(burst|hiccup)=|^drain$/.test(what)) continue;
    for (const part of what.split(';')) {
      const [key, value] = part.split('=');
      if (!key.startsWith('b.')) q.set(key.replace(/^a[.]/, ''), value);
    }
  }
  return q;
};
(() => {
  const Native = window.EventSource;
  if (!Native || Native.__recorded) return;
  window.__frames = [];
  window.__sources = [];
  window.__eventCount = 0;  // events carried by all frames so far
  class Recorded extends Native {
    constructor(url, init) {
      super(url, init);
      window.__sources.push(url);
      this.addEventListener('frame', (event) => {
        try {
          const frame = JSON.parse(event.data);
          window.__frames.push(frame);
          window.__eventCount += (frame.events || []).length;
        } catch (e) { /* not ours to judge */ }
        if (window.__frames.length > 3000) window.__frames.splice(1, 1000);  // keep the first
      });
    }
  }
  Recorded.__recorded = true;
  window.EventSource = Recorded;
  // Every #status data-state the page shows, in order (the contract lists the allowed ones).
  window.__states = [];
  const watchStatus = () => {
    const node = document.getElementById('status');
    if (!node) return;
    const note = () => {
      const state = node.dataset.state;
      if (window.__states[window.__states.length - 1] !== state) window.__states.push(state);
    };
    note();
    new MutationObserver(note).observe(node, {attributes: true, attributeFilter: ['data-state']});
  };
  document.addEventListener('DOMContentLoaded', watchStatus);
})();
"""


def _check_log(server: Server) -> None:
    log = server.log()
    assert "Traceback" not in log and "ERROR" not in log, f"server log:\n{log}"


@pytest.fixture(scope="session")
def server():
    """One real server for the session; its log is checked after it is terminated."""
    server = Server(SERVER_ENV)
    yield server
    server.stop()
    _check_log(server)


@pytest.fixture
def restartable_server():
    """``start(port=None, **settings)``: runs a server (on ``port`` if given, with ``SERVER_ENV``
    overridden by ``settings``, e.g. ``max_sessions=1``); all are stopped and their logs checked
    after the test."""
    servers: list[Server] = []

    def start(port: int | None = None, **settings) -> Server:
        started = Server({**SERVER_ENV, **settings}, port)
        servers.append(started)
        return started

    yield start
    for one in servers:
        one.stop()
    for one in servers:
        _check_log(one)


@pytest.fixture
def server_with(restartable_server):
    """``server_with(**settings)``: a server with other settings (the same factory)."""
    return restartable_server


# Module scope, not session: the sync Playwright API keeps an event loop running in this
# thread while it is open, and the rest of the suite runs asyncio programs of its own.
@pytest.fixture(scope="module")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance):
    try:
        browser = launch(playwright_instance)
    except BrowserMissing as missing:
        browser, why = None, str(missing)
    if browser is None:  # outside the except: the sentence alone, not Playwright's traceback
        pytest.fail(why, pytrace=False)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class PageWatcher:
    """Collects console errors and page errors from pages; ``allow`` takes regexes to tolerate."""

    def __init__(self):
        self.problems: list[str] = []
        self.allowed: list[re.Pattern] = []
        self.tolerated: list[str] = []

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def watch(self, page) -> None:
        def on_console(message):
            if message.type == "error":
                location = message.location or {}
                where = location.get("url", "")
                self._problem(f"console error: {message.text} ({where}:{location.get('lineNumber')})")

        def on_page_error(error):
            self._problem(f"page error: {error}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)

    def _problem(self, text: str) -> None:
        if any(pattern.search(text) for pattern in self.allowed):
            self.tolerated.append(text)
        else:
            self.problems.append(text)


#: Chromium's own log line for a missing /favicon.ico. Only the page-load test holds the page
#: to it (that test clears this allowance); elsewhere it would hide the test's real result.
FAVICON_404 = r"status of 404 .*\(http://[^ ]+/favicon\.ico:"
#: The server sheds load with 503 on POST /api/sessions when its frame ticks run late (a busy
#: 2-core machine running chromium does that); the page answers it by retrying, which is the
#: designed path. Chromium still logs the 503: tolerated, and listed in the terminal summary.
SESSIONS_503 = r"status of 503 .*\(http://[^ ]+/api/sessions:"
#: The code view asks for its program after the first frame is drawn; a test that stops its
#: server right after (or while the page is away) leaves that request with nobody to answer.
#: The page says so in the code panel and asks again with the next link: tolerated and listed.
CODE_VIEW_UNREACHABLE = r"net::ERR_CONNECTION_(REFUSED|RESET) \(http://[^ ]+/api/code/"

#: Every tolerated console line of the run, for the terminal summary.
TOLERATED: list[tuple[str, str]] = []


@pytest.fixture
def watcher():
    watcher = PageWatcher()
    watcher.allow(FAVICON_404)
    watcher.allow(SESSIONS_503)
    watcher.allow(CODE_VIEW_UNREACHABLE)
    return watcher


@pytest.fixture
def new_page(request, browser, watcher):
    """``new_page(**context_options)``: a page in a fresh context, watched for errors."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.add_init_script(RECORD_FRAMES)
        contexts.append(context)
        page = context.new_page()
        watcher.watch(page)
        return page

    yield make
    for context in contexts:
        try:
            for page in context.pages:  # pagehide: the page closes its session (sendBeacon)
                page.goto("about:blank", timeout=3_000)
            context.close()
        except Exception:  # noqa: BLE001 - closing after a failure must not hide it
            pass
    TOLERATED.extend((request.node.name, line) for line in watcher.tolerated)
    if watcher.problems:
        pytest.fail("the page reported errors:\n" + "\n".join(watcher.problems), pytrace=False)


@pytest.fixture
def page(new_page):
    return new_page()


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter):
    if TOLERATED:
        terminalreporter.section("browser console lines tolerated (not the page's errors)")
        for test, line in TOLERATED:
            terminalreporter.write_line(f"{test}: {line}")


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: browser tests (Playwright + chromium)")

