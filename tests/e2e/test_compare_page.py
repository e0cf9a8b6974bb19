"""Compare mode on the page (issue 11): two services on the same load, labelled by what differs,
with their outcomes side by side, the diff of their programs, and the controls that start, fork,
swap and stop a comparison or edit A, B or both."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import expect
from test_page import full_frames, open_page, set_field, wait_frame

LINK = "v=1&rate=60&queue=10&workers=2&limit=2&service_time=0.05"


def address(page) -> dict[str, str]:
    """The address bar's keys, with its do= log's settings applied (a link is the whole run: a
    change made during it is an entry, ``0.41:b.policy=drop-oldest``, not a key)."""
    keys = dict(parse_qsl(urlsplit(page.url).query))
    log = keys.pop("do", "")
    keys.pop("at", None)
    for entry in filter(None, log.split(",")):
        what = entry.split(":", 1)[1]
        if what == "drain" or what.startswith(("burst=", "hiccup=")):
            continue
        for part in what.split(";"):
            key, value = part.split("=", 1)
            keys[key.removeprefix("a.")] = value
    return keys


def test_a_comparison_link_shows_both_services_side_by_side(page, server, artifacts, tmp_path):
    open_page(page, server, LINK + "&b.policy=reject", frames=2)
    expect(page.locator("#side-a-label")).to_have_text("A: policy block")
    expect(page.locator("#side-b-label")).to_have_text("B: policy reject")
    expect(page.locator("#pipeline-b")).to_be_visible()
    page.select_option("#speed", "5")
    frame = wait_frame(page, "f => f.b && f.b.state.totals.rejected > 20 && f.t > 4", timeout=20_000)
    # One stream carries both, on one clock and the same arrivals.
    assert frame["t"] == frame["b"]["t"]
    assert frame["state"]["totals"]["arrived"] == frame["b"]["state"]["totals"]["arrived"]
    # The table marks the better side: B's bounded wait has the lower p99; what B rejects is its
    # trade-off, not marked either way.
    table = page.locator("#outcomes-table")
    expect(table.locator("tr[data-outcome='latency_p99'] td").nth(1)).to_have_class("better")
    expect(table.locator("tr[data-outcome='rejected'] td.better")).to_have_count(0)
    # The questions answer for both; the code view is the diff of the programs.
    expect(page.locator("#questions")).to_contain_text("B: New work is rejected when full")
    expect(page.locator("#code")).to_contain_text("+++ B.py")
    expect(page.locator("#code")).to_contain_text("put_nowait")
    # The charts draw B beside A and say both in their labels.
    expect(page.locator("canvas.chart[data-chart='latency']")).to_have_attribute(
        "aria-label", __import__("re").compile(r"p99 A [\d.k]+, B [\d.k]+"))
    page.locator(".pipeline-panel").screenshot(path=str(artifacts / "compare-pipelines.png"))
    page.screenshot(path=str(artifacts / "compare-page.png"), full_page=True)
    # The windows CSV says which service each row is; the summary holds both.
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    path = tmp_path / "windows.csv"
    info.value.save_as(path)
    header, *rows = path.read_text().strip().split("\n")
    assert header.startswith("service,t,")
    assert {row.split(",")[0] for row in rows} == {"A", "B"}
    with page.expect_download() as info:
        page.locator("#export-summary").click()
    info.value.save_as(tmp_path / "summary.json")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["link"] == LINK + "&b.policy=reject" and summary["b"]["rejected"] > 0
    # The address bar reopens exactly this comparison.
    assert address(page) == dict(parse_qsl(LINK + "&b.policy=reject"))


def test_compare_edit_b_swap_and_stop(page, server):
    open_page(page, server, LINK, frames=2)
    expect(page.locator("#side-b")).to_be_hidden()
    page.locator("#compare-start").click()
    expect(page.locator("#side-b")).to_be_visible()
    expect(page.locator("#compare-status")).to_contain_text("Changes now go to B")
    expect(page.locator("#edit-target input[value='b']")).to_be_checked()
    page.select_option("#field-policy", "drop-oldest")
    expect(page.locator("#side-b-label")).to_have_text("B: policy drop-oldest")
    assert address(page).get("b.policy") == "drop-oldest" and "policy" not in address(page)
    # A shared key changes both, whatever the target.
    page.locator("#number-rate").fill("40")
    page.locator("#number-rate").dispatch_event("change")
    page.wait_for_url(lambda url: "rate=40" in url)
    expect(page.locator("#error-rate")).to_have_text("")  # the server took it for both (not B alone)
    assert "b.rate" not in address(page)
    # Both: a change for both keeps the difference.
    page.locator("#edit-target input[value='both']").check()
    set_field(page, "workers", 3)
    page.wait_for_url(lambda url: ":workers=3" in url)
    # Recorded once for both (no b. prefix); the start's b.workers=2 only marks B as A's copy.
    assert "b.workers=3" not in page.url and address(page).get("b.workers") in (None, "2"), page.url
    assert "b.policy=drop-oldest" in page.url
    page.locator("#compare-swap").click()
    expect(page.locator("#side-a-label")).to_have_text("A: policy drop-oldest")
    page.locator("#compare-stop").click()
    expect(page.locator("#side-b")).to_be_hidden()
    expect(page.locator("#outcomes")).to_be_hidden()
    assert not any(key.startswith("b.") for key in address(page)) and address(page)["policy"] == "drop-oldest"


def test_fork_b_here_copies_the_run_at_this_moment(page, server):
    open_page(page, server, LINK, frames=2)
    page.select_option("#speed", "5")
    wait_frame(page, "f => f.t > 3")
    page.locator("#compare-fork").click()
    wait_frame(page, "f => f.b")
    frame = next(f for f in full_frames(page) if f.get("b"))  # the fork's first frame
    assert frame["t"] > 3 and frame["b"]["t"] == frame["t"]
    assert frame["b"]["state"]["totals"] == frame["state"]["totals"]  # the same run, so far
    page.select_option("#field-policy", "reject")
    wait_frame(page, "f => f.b && f.b.state.totals.rejected > 0 && f.state.totals.rejected === 0", timeout=20_000)


def test_littles_law_holds_within_two_percent_on_the_live_page(page, server):
    open_page(page, server, "v=1&rate=30&workers=4&limit=4&service_time=0.1", frames=2)
    page.select_option("#speed", "20")
    frame = wait_frame(page, "f => f.t >= 45 && f.theory && f.theory.span >= 29", timeout=30_000)
    little = frame["theory"]["little"]
    assert abs(little["L"] - little["lambda"] * little["W"]) <= 0.02 * little["L"], little
    expect(page.locator("#theory")).to_contain_text("Little's law over the last")


def test_the_curve_sweeps_the_scenario_and_marks_the_live_run(page, server, artifacts):
    open_page(page, server, "v=1&rate=30&workers=2&limit=2&service_time=0.05&queue=5&policy=reject", frames=2)
    page.locator("#sweep-start").click()
    expect(page.locator("#sweep-cancel")).to_be_visible()
    status = page.locator("#sweep-status")
    expect(status).to_contain_text("Swept 20 runs of 20,000 arrivals", timeout=90_000)
    expect(status).to_contain_text("The live run sits at 75 % of capacity")
    expect(page.locator("#sweep-cancel")).to_be_hidden()
    expect(page.locator("#curve-table tbody tr")).to_have_count(20)
    expect(page.locator("#curve-latency")).to_have_attribute("aria-label", __import__("re").compile(r"p99 \d+ ms at 10 %"))
    page.locator(".curve-panel").screenshot(path=str(artifacts / "curve.png"))
    # A change voids the curve, and says so; a sweep can be cancelled.
    page.select_option("#field-policy", "drop-oldest")
    page.wait_for_url(lambda url: "policy=drop-oldest" in url)
    expect(status).to_contain_text("The scenario has changed since: sweep again")
    page.locator("#sweep-start").click()
    page.locator("#sweep-cancel").click()
    expect(status).to_contain_text("Cancelled after", timeout=30_000)


def test_a_new_user_sees_which_side_collapses_reads_why_and_shares_it(new_page, server, artifacts):
    """Issue 11's done-when: ?preset=semaphore-vs-none shows within 10 s which side collapses, the
    code diff says why, and the copied link reopens exactly that comparison."""
    page = new_page(viewport={"width": 1280, "height": 900},
                    permissions=["clipboard-read", "clipboard-write"])
    open_page(page, server, "preset=semaphore-vs-none", frames=2)
    expect(page.locator("#side-a-label")).to_have_text("A: limit 0")
    expect(page.locator("#side-b-label")).to_have_text("B: limit 8")
    expect(page.locator("#preset-notice")).to_contain_text("Within ten seconds A has completed less than nine tenths")
    frame = wait_frame(page, "f => f.t >= 10 && f.b", timeout=25_000)
    done_a, done_b = frame["state"]["totals"]["completed"], frame["b"]["state"]["totals"]["completed"]
    assert done_a < 0.9 * done_b, (done_a, done_b)
    expect(page.locator("#outcomes-table tr[data-outcome='completed'] td").nth(1)).to_have_class("better")
    expect(page.locator("#outcomes-table tr[data-outcome='latency_p99'] td").nth(1)).to_have_class("better")
    # Why: B's program wraps the downstream call in the semaphore.
    code = page.locator("#code")
    expect(code).to_contain_text("+LIMIT = 8")
    expect(code).to_contain_text("+        async with semaphore:")
    page.screenshot(path=str(artifacts / "compare-semaphore-vs-none.png"))
    page.click("#copy-link")
    copied = page.evaluate("navigator.clipboard.readText()")
    again = new_page(viewport={"width": 1280, "height": 900})
    again.goto(copied)
    wait_frame(again, "f => f.b")
    expect(again.locator("#side-a-label")).to_have_text("A: limit 0")
    expect(again.locator("#side-b-label")).to_have_text("B: limit 8")
    assert address(again) == {"v": "1", "preset": "semaphore-vs-none"}


def test_marks_only_what_the_run_supports_and_say_their_rule(page, server, artifacts):
    """Issue 21, item 3: drop-stale-vs-keep completes about as many on both sides (2,526 against
    2,513 once earned B a ✓), and B's p99 is many times A's: the ✓ goes to A's p99 alone, not to
    B's Completed nor to B's fewer stale items (dropping stale work is A's design, not a loss to
    mark). The rule is one keyboard press away under the table."""
    open_page(page, server, "preset=drop-stale-vs-keep", frames=2)
    page.select_option("#speed", "10")
    frame = wait_frame(page, "f => f.b && f.t >= 40 && f.outcomes", timeout=30_000)
    a, b = frame["outcomes"]["a"], frame["outcomes"]["b"]
    assert abs(a["completed"] - b["completed"]) < 0.05 * max(a["completed"], b["completed"]), (a, b)
    assert b["latency_p99"] > 3 * a["latency_p99"], (a, b)
    table = page.locator("#outcomes-table")
    expect(table.locator("tr[data-outcome='latency_p99'] td").nth(0)).to_have_class("better")
    expect(table.locator("tr[data-outcome='completed'] td.better")).to_have_count(0)
    expect(table.locator("tr[data-outcome='stale'] td.better")).to_have_count(0)
    expect(table.locator("tr[data-outcome='peak_in_system'] td.better")).to_have_count(0)
    rule = page.locator("#outcomes-rule")
    expect(rule.locator("p")).to_be_hidden()
    rule.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(rule.locator("p")).to_be_visible()
    expect(rule.locator("p")).to_contain_text("more than 5 % and more than 10 items")
    page.locator("#outcomes").screenshot(path=str(artifacts / "compare-marks-drop-stale-vs-keep.png"))


def test_fork_b_from_a_moment_the_timeline_shows(page, server):
    """Dragged back, the button reads "Fork B from here" and B is A as it was at that moment: both
    sides start at that t with A's totals there, the link is a comparison, and B then parts."""
    open_page(page, server, LINK, frames=2)
    page.select_option("#speed", "10")
    wait_frame(page, "f => f.t > 12", timeout=30_000)
    page.click("#pause")
    wait_frame(page, "f => f.status === 'paused'")
    page.eval_on_selector("#timeline-range", """(el) => {
        el.value = '5'; el.dispatchEvent(new Event('input', {bubbles: true})); }""")
    expect(page.locator("#compare-fork")).to_have_text("Fork B from here")
    shown = float(re.search(r"Showing ([0-9.]+) s", page.inner_text("#timeline-at")).group(1))
    assert 4 <= shown <= 5
    page.locator("#compare-fork").click()
    wait_frame(page, "f => f.b")
    frame = next(f for f in full_frames(page) if f.get("b"))  # the fork's first frame
    assert shown <= frame["t"] < shown + 3 and frame["b"]["t"] == frame["t"]
    assert frame["b"]["state"]["totals"] == frame["state"]["totals"]
    expect(page.locator("#pipeline-b")).to_be_visible()
    expect(page.locator("#compare-status")).to_contain_text(f"at {shown:g} s")
    expect(page.locator("#timeline-at")).to_contain_text("Live")
    assert any(key.startswith("b.") for key in address(page)), page.url
    page.select_option("#field-policy", "reject")
    wait_frame(page, "f => f.b && f.b.state.totals.rejected > 0 && f.state.totals.rejected === 0", timeout=20_000)
