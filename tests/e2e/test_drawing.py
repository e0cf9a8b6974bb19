"""What the pipeline canvas and the charts draw, read through their debug hooks.

``window.playground.pipeline.lastLayout`` is what the last draw put where (css px): the workers in
drawing order with their states, the queue's box, slots and items, the lost-item lane and the
particles in it, the memory bar, and the main texts with their boxes. ``window.playground.charts``
is the charts (``view``: the rows drawn). Each check reads a layout drawn from the newest frame
(``lastLayout.t === lastFrame.t``), so it compares what was drawn with what the frame said.
"""

from __future__ import annotations

import re

from test_page import FIRST_FRAME_WAIT, open_page, wait_frame, wait_js

#: The layout drawn from the newest frame, with that frame (or null while a draw is pending).
DRAWN = """() => {
  const p = window.playground, pl = p.pipeline, f = p.lastFrame;
  if (!pl || !pl.lastLayout || !f || pl.lastLayout.t !== f.t) return null;
  return {layout: pl.lastLayout, frame: f};
}"""

ORDER = {"c": 0, "p": 1, "i": 2}


def drawn(page, predicate_js: str = "() => true", what: str = "a drawn layout") -> dict:
    """Wait for a layout drawn from the newest frame where ``predicate_js(layout, frame)`` holds."""
    wait_js(page, f"() => {{ const d = ({DRAWN})(); return !!d && ({predicate_js})(d.layout, d.frame); }}",
            what=what, timeout=20_000)
    for _ in range(20):  # a new frame may arrive between the wait and the read
        got = page.evaluate(f"() => {{ const d = ({DRAWN})(); return d && ({predicate_js})(d.layout, d.frame) ? d : null; }}")
        if got:
            return got
        page.wait_for_timeout(20)
    raise AssertionError(f"no layout drawn from the newest frame where {predicate_js}")


def overlaps(a: dict, b: dict, slack: float = 0.5) -> bool:
    return (a["x"] + slack < b["x"] + b["w"] and b["x"] + slack < a["x"] + a["w"]
            and a["y"] + slack < b["y"] + b["h"] and b["y"] + slack < a["y"] + a["h"])


def inside(a: dict, box: dict, slack: float = 0.5) -> bool:
    return (a["x"] >= box["x"] - slack and a["y"] >= box["y"] - slack
            and a["x"] + a["w"] <= box["x"] + box["w"] + slack
            and a["y"] + a["h"] <= box["y"] + box["h"] + slack)


def check_words(layout: dict) -> None:
    for name, text in layout["texts"].items():
        assert not re.search(r"(?<![\d.])1 (calls|items|crashes)\b", text["text"]), (name, text["text"])


# item 1: busy workers first ------------------------------------------------------------------


def test_calling_workers_are_drawn_before_waiting_and_idle_ones(page, server, artifacts):
    # No semaphore: 32 workers, few of them calling at a time; only 24 boxes fit.
    open_page(page, server, "preset=no-semaphore")
    got = drawn(page, "(l, f) => f.state.workers.some(w => w[1] === 'c') && f.state.workers.some(w => w[1] === 'i')"
                      " && f.state.workers.length > 24", "a frame with calling and idle workers")
    layout, frame = got["layout"], got["frame"]
    states = [w["state"] for w in layout["workers"]]
    assert len(states) == 24, states
    assert states == sorted(states, key=ORDER.get), f"busy workers are not drawn first: {states}"
    listed = [w[1] for w in frame["state"]["workers"]]
    for code in ("c", "p"):  # every busy worker fits in 24 boxes here, so every one is drawn
        assert states.count(code) == listed.count(code), (code, states, listed)
    # The rest is summarised by state, honestly.
    rest = {code: listed.count(code) - states.count(code) for code in ORDER}
    summary = layout["workersSummary"]
    assert summary, "no summary for the workers that did not fit"
    assert "more" not in summary, summary
    if rest["i"]:
        assert f"+{rest['i']} idle" in summary, (summary, rest)
    check_words(layout)
    page.screenshot(path=str(artifacts / "drawing-no-semaphore-1440.png"))


def test_a_frame_lists_busy_workers_first_when_it_caps_the_list(page, server):
    # 100 workers: a frame lists 64, the busy ones first, and counts the rest per state.
    open_page(page, server, "workers=100&limit=0&capacity=4&rate=60&queue=50&service_time=0.1")
    frame = wait_frame(page, "f => f.state.workers.some(w => w[1] === 'c') && f.state.workers_more > 0")
    state = frame["state"]
    listed = [w[1] for w in state["workers"]]
    assert len(listed) == 64
    assert listed == sorted(listed, key=ORDER.get), listed
    assert sum(state["workers_rest"].values()) == state["workers_more"] == 36
    # Nobody busy is left out while an idle worker is listed.
    if "i" in listed:
        assert not state["workers_rest"].get("c") and not state["workers_rest"].get("p"), state["workers_rest"]
    layout = drawn(page, "(l, f) => f.state.workers_more > 0")["layout"]
    states = [w["state"] for w in layout["workers"]]
    assert states == sorted(states, key=ORDER.get), states


# item 2: an out-of-memory restart ------------------------------------------------------------


def test_windows_and_levels_drop_to_zero_while_the_service_is_down(page, server, artifacts):
    open_page(page, server, "preset=unbounded-oom")
    page.select_option("#speed", "5")
    wait_frame(page, "f => f.speed === 5")
    got = drawn(page, "(l, f) => f.state.down_until != null", "a frame drawn while the service is down")
    layout, frame = got["layout"], got["frame"]
    # A crash snaps the levels: the bar and the count show 0 at once, like the text.
    assert layout["memory"]["held"] == 0 and layout["memory"]["drawn"] == 0, layout["memory"]
    assert layout["texts"]["queueCount"]["text"] == "0 queued"
    page.screenshot(path=str(artifacts / "drawing-oom-down-1440.png"))
    down_until = frame["state"]["down_until"]
    wait_frame(page, "(f, t) => f.t >= t + 1.5", down_until)
    columns = page.evaluate("""async () => (await (await fetch('/api/fields')).json()).window_columns""")
    rows = page.evaluate("(window.__frames || []).flatMap(f => f.windows || [])")
    rows = [dict(zip(columns, row)) for row in rows]
    crash_at = down_until - 3  # the preset restarts after 3 s
    during = [r for r in rows if crash_at < r["t"] <= down_until - 0.01]
    assert len(during) >= 4, [r["t"] for r in rows][-20:]
    for row in during:
        assert (row["queue"], row["in_flight"], row["memory"]) == (0, 0, 0), row
    before = [r for r in rows if r["t"] <= crash_at][-1]
    assert before["queue"] > 400, before
    # The charts draw those rows: the queue line is at 0 while memory is.
    drawn_rows = page.evaluate("window.playground.charts.view.map(r => [r[0], r[%d]])" % columns.index("queue"))
    assert any(crash_at < t < down_until and q == 0 for t, q in drawn_rows)


# item 3: clutter ---------------------------------------------------------------------------------


def test_queue_slots_do_not_overlap_and_lost_items_keep_to_their_lane(new_page, server, artifacts):
    for viewport, name in (({"width": 1440, "height": 900}, "1440"), ({"width": 390, "height": 844}, "390")):
        page = new_page(viewport=viewport, device_scale_factor=1 if name == "1440" else 2)
        open_page(page, server, "preset=webhook-ingestion")
        page.select_option("#speed", "5")
        wait_frame(page, "f => f.speed === 5")
        seen_particles = seen_labels = 0
        for _ in range(12):
            got = drawn(page, "(l, f) => f.t > 3 && f.state.queue.n > 0", "a full queue")
            layout, frame = got["layout"], got["frame"]
            queue = layout["queue"]
            items = queue["items"]
            assert len(items) == min(frame["state"]["queue"]["n"], queue["slots"])
            for i, a in enumerate(items):
                assert inside(a, queue["box"]), (a, queue["box"])
                for b in items[i + 1:]:
                    assert not overlaps(a, b), (a, b)
            hidden = frame["state"]["queue"]["n"] - len(items)
            assert (queue["more"] == f"+{hidden} more") if hidden > 0 else not queue["more"], queue["more"]
            # The big count is the frame's number, not an eased one.
            q = frame["state"]["queue"]
            expected = f"{q['n']} / {q['max']}" if q["max"] else f"{q['n']} queued"
            assert layout["texts"]["queueCount"]["text"] == expected
            # Lost items stay in their lane, and the lane covers no label, the queue or memory.
            lane = layout["lane"]
            for particle in layout["particles"]:
                assert inside(particle, lane, slack=1), (particle, lane)
            seen_particles += len(layout["particles"])
            # No square is drawn over a word: a label comes after every square that touches it.
            drawn_list = layout["particles"]
            for i, word in enumerate(drawn_list):
                if word["kind"] != "label":
                    continue
                seen_labels += 1
                for later in drawn_list[i + 1:]:
                    assert later["kind"] == "label" or not overlaps(later, word), (word, later)
            for label, box in layout["texts"].items():
                assert not overlaps(box, lane), (label, box, lane)
            assert not overlaps(queue["box"], lane)
            check_words(layout)
            page.wait_for_timeout(120)
        assert seen_particles > 0, "no rejected items were drawn in the lane"
        assert seen_labels > 0, "no lost-item label was drawn"
        page.screenshot(path=str(artifacts / f"drawing-webhook-{name}.png"))
        if name == "390":
            assert page.evaluate("document.documentElement.scrollWidth") <= 390


# items 4-6: charts ---------------------------------------------------------------------------


def test_a_run_shorter_than_one_window_still_draws_its_charts(page, server, artifacts):
    open_page(page, server, "preset=handbook")
    if page.evaluate("window.playground.lastFrame.status") == "paused":
        page.click("#pause")  # resume
    wait_frame(page, "f => f.status === 'finished'", timeout=FIRST_FRAME_WAIT)
    wait_js(page, "() => window.playground.charts && window.playground.charts.view.length >= 1",
            what="a final, partial window in the charts")
    row = page.evaluate("window.playground.charts.view[window.playground.charts.view.length - 1]")
    assert abs(row[0] - 0.45) < 1e-6, row
    label = page.locator("#charts canvas[data-chart=queue]").get_attribute("aria-label")
    assert "no data" not in label, label
    page.locator("#charts").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "drawing-handbook-charts.png"))


def test_the_latency_chart_switches_to_where_the_time_goes(page, server, artifacts):
    open_page(page, server, "preset=api-fan-out")
    wait_js(page, "() => window.playground.charts && window.playground.charts.view.length >= 4",
            what="a few windows")
    chart = page.locator("#charts canvas[data-chart=latency]")
    assert chart.get_attribute("data-mode") == "percentiles"
    chart.click()
    wait_js(page, "() => document.querySelector('#charts canvas[data-chart=latency]').dataset.mode === 'breakdown'")
    page.mouse.move(0, 0)
    wait_js(page, """() => /queued .* ms, waiting for a permit/.test(
                document.querySelector('#charts canvas[data-chart=latency]').getAttribute('aria-label'))""",
            what="the breakdown's values in the chart's label")
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "drawing-latency-breakdown.png"))
    chart.focus()
    page.keyboard.press("Enter")
    wait_js(page, "() => document.querySelector('#charts canvas[data-chart=latency]').dataset.mode === 'percentiles'")
