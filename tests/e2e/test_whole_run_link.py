"""Issue 22's done-when, in the browser: what was done during a run travels with its link. On
``?preset=webhook-ingestion&seed=3`` set queue=5 at about 3 s, press Hiccup at about 5 s and Burst
at about 6 s, pause, Copy link: a fresh context opening the link plays the same run (the same
totals as ``run LINK --until T --json`` at the time it is paused), and the link with ``at=T``
(Copy link to this moment) opens paused with the first page's own totals at T."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import httpx
from playwright.sync_api import expect
from test_page import FIRST_FRAME_WAIT, set_field, wait_frame, wait_frames, wait_js

from server_helpers import ROOT

CLIPBOARD = dict(permissions=["clipboard-read", "clipboard-write"])
#: What the summary endpoint and the CLI both print, compared to the last digit.
KEYS = ("arrived", "completed", "rejected", "dropped", "in_system", "throughput", "latency_mean",
        "latency_p50", "latency_p99", "peak_in_system", "sim_time")


def session_id(page) -> str:
    return re.search(r"/api/sessions/([^/]+)/stream$", page.evaluate("window.__sources.at(-1)")).group(1)


def summary_of(server, page) -> dict:
    return httpx.get(f"{server.url}/api/sessions/{session_id(page)}/summary", timeout=10).json()


def cli_run(link: str, until: float | None = None) -> dict:
    argv = [sys.executable, "-m", "playground", "run", link, "--json"]
    if until is not None:
        argv += ["--until", repr(until)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def differ(a: dict, b: dict) -> dict:
    return {key: (a.get(key), b.get(key)) for key in KEYS if a.get(key) != b.get(key)}


def pause(page) -> float:
    page.click("#pause")
    frame = wait_frame(page, "f => f.status === 'paused'")
    page.wait_for_timeout(300)  # a frame or two more: the paused instant settles
    return page.evaluate("window.playground.lastFrame.t")


def copied(page, button: str = "#copy-link") -> str:
    page.evaluate("navigator.clipboard.writeText('')")
    page.click(button)
    wait_js(page, "() => navigator.clipboard.readText().then(t => t.length > 0)", what="the copied link")
    return page.evaluate("navigator.clipboard.readText()")


def test_the_link_carries_what_was_done_and_any_moment_of_it(new_page, server, artifacts):
    first = new_page(viewport={"width": 1280, "height": 900}, **CLIPBOARD)
    first.goto(f"{server.url}/?preset=webhook-ingestion&seed=3")
    wait_frames(first, 2, FIRST_FRAME_WAIT)
    wait_frame(first, "f => f.t >= 3", timeout=20_000)
    set_field(first, "queue", 5)
    wait_frame(first, "f => f.state.queue.max === 5")
    wait_frame(first, "f => f.t >= 5", timeout=20_000)
    first.click("#hiccup")
    wait_frame(first, "f => f.t >= 6", timeout=20_000)
    first.click("#burst")
    wait_js(first, "() => /burst=20/.test(location.search)", what="the burst in the address bar")
    t = pause(first)
    link = copied(first)
    assert link == first.url, "Copy link copies what the address bar holds"
    query = dict(parse_qsl(urlsplit(link).query))
    entries = query["do"].split(",")
    assert [entry.split(":", 1)[1] for entry in entries] == ["queue=5", "hiccup=5x3", "burst=20"], link
    times = [float(entry.split(":")[0]) for entry in entries]
    assert 3 <= times[0] < times[1] < times[2] < t, (times, t)
    assert query["queue"] if "queue" in query else True  # the start's settings stay the preset's
    assert "queue" not in query, "queue=5 happened at 3 s: it is an entry, not a starting setting"
    original = summary_of(server, first)
    assert original["sim_time"] == t
    assert not differ(original, cli_run(link, t)), differ(original, cli_run(link, t))

    # A fresh context plays the copied link: the same entries at the same times, then the same run.
    second = new_page(viewport={"width": 1280, "height": 900})
    second.goto(link)
    wait_frames(second, 2, FIRST_FRAME_WAIT)
    expect(second.locator("#field-queue")).not_to_have_value("5")  # at t < 3 the queue is the preset's
    second.select_option("#speed", "5")
    wait_frame(second, "f => f.state.queue.max === 5", timeout=20_000)  # the log moved the slider
    expect(second.locator("#field-queue")).to_have_value("5")
    wait_frame(second, "(f, t) => f.t > t + 1", arg=t, timeout=30_000)
    t2 = pause(second)
    assert second.url == link, "playing a link's log leaves the link as it was"
    played = summary_of(server, second)
    assert not differ(played, cli_run(link, t2)), differ(played, cli_run(link, t2))

    # Copy link to this moment: the same link with at=T, opening paused with the first page's totals.
    moment = copied(first, "#copy-moment")
    assert moment == f"{link}&at={t:g}" or moment == link + "&at=" + (f"{t:.3f}".rstrip("0").rstrip(".")), moment
    third = new_page(viewport={"width": 1280, "height": 900})
    third.goto(moment)
    frame = wait_frame(third, "f => f.status === 'paused'", timeout=FIRST_FRAME_WAIT)
    assert frame["t"] == t
    expect(third.locator("#field-queue")).to_have_value("5")
    at_moment = summary_of(server, third)
    assert not differ(at_moment, original), differ(at_moment, original)
    third.screenshot(path=str(artifacts / "whole-run-link-at-moment.png"))
    # ...and plays on from there.
    third.click("#pause")
    wait_frame(third, "(f, t) => f.t > t + 0.5", arg=t, timeout=20_000)


def test_a_bad_log_in_a_link_is_named_on_the_page_and_the_run_plays_without_it(page, server):
    page.goto(f"{server.url}/?preset=webhook-ingestion&seed=3&do=3:queue=5,2:burst=10")
    wait_frames(page, 1, FIRST_FRAME_WAIT)
    expect(page.locator("#notice, #link-errors").first).to_be_visible()
    body = page.inner_text("body")
    assert "do's entry 2 ('2:burst=10') is at 2 s, before the entry ahead of it at 3 s" in body
    # The run plays the link without its log (the address bar keeps what was typed, to fix it).
    assert "do=" not in page.evaluate("window.playground.lastFrame.link || window.__frames.find(f => f.full).link")


def test_the_timeline_shows_a_moment_a_minute_back_and_continues_from_it(new_page, server, artifacts):
    """Dragging the timeline back 60 s on a 5-minute run shows that moment (its numbers are the
    CLI's at that time), and Continue from here plays on from it: the same run as the link's."""
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server.url}/?preset=webhook-ingestion&seed=3")
    wait_frames(page, 2, FIRST_FRAME_WAIT)
    page.select_option("#speed", "20")
    wait_frame(page, "f => f.t >= 300", timeout=90_000)
    now = pause(page)
    link = page.url
    back = now - 60
    page.eval_on_selector("#timeline-range", """(el, t) => {
        el.value = String(t); el.dispatchEvent(new Event('input', {bubbles: true})); }""", back)
    expect(page.locator("#timeline-at")).to_contain_text("Showing")
    shown = float(re.search(r"Showing ([0-9.]+) s", page.inner_text("#timeline-at")).group(1))
    # The slider snaps what it is given to its nearest step (a quarter second from its first moment),
    # and shows the last recorded moment at or before that (at 20x a frame is a second of the run;
    # the label rounds to the millisecond).
    asked = float(page.eval_on_selector("#timeline-range", "el => el.value"))
    assert abs(asked - back) <= 0.125 + 1e-6, (asked, back)
    assert asked - 1.5 <= shown <= asked + 0.0005, (shown, asked)
    at_moment = cli_run(link, shown)
    expect(page.locator("#questions")).to_contain_text(f"({at_moment['rejected']} rejected so far)")
    drawn = page.evaluate("window.playground.pipeline.lastLayout && window.playground.lastFrame.t")
    assert drawn == now  # the run itself stayed where it was, paused
    page.screenshot(path=str(artifacts / "timeline-a-minute-back.png"))
    page.click("#timeline-continue")
    frame = wait_frame(page, "(f, t) => f.t >= t && f.t < t + 30 && f.status === 'running'", arg=shown,
                       timeout=30_000)
    expect(page.locator("#timeline-at")).to_contain_text("Live")
    assert frame["t"] < now
    wait_frame(page, "(f, t) => f.t > t + 5", arg=shown, timeout=30_000)
    t2 = pause(page)
    assert page.url == link  # nothing was done in the minute discarded: the link is the same run
    assert not differ(summary_of(server, page), cli_run(link, t2)), differ(summary_of(server, page), cli_run(link, t2))
