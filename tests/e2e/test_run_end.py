"""A finished run's numbers are the CLI's (issue 21, item 2): the handbook, resumed on the page,
ends at 0.450 s with 13.33 items/s, the figures `run --json` prints, to the last digit shown."""

from __future__ import annotations

import json
import subprocess
import sys

from playwright.sync_api import expect
from test_page import open_page, wait_frame


def _cli(link: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "playground", "run", link, "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _panel(page) -> dict:
    return dict(page.evaluate("""() => [...document.querySelectorAll('#run-summary-list > div')]
        .map(d => [d.querySelector('dt').textContent, d.querySelector('dd').textContent])"""))


def test_the_handbooks_end_of_run_panel_reads_the_clis_numbers(page, server, artifacts):
    cli = _cli("v=1&preset=handbook")
    open_page(page, server, "preset=handbook")
    wait_frame(page, "f => f.status === 'paused'")  # it opens paused at t = 0, to step through
    page.click("#pause")  # Resume
    wait_frame(page, "f => f.status === 'finished'", timeout=15_000)
    expect(page.locator("#run-summary")).to_be_visible()
    shown = _panel(page)
    assert shown["Ended at"] == f"{cli['sim_time']:.3f} s (finished)" == "0.450 s (finished)"
    assert shown["Throughput"] == f"{cli['throughput']:.2f} items/s" == "13.33 items/s"
    assert shown["Completed"] == str(cli["completed"]) == "6"
    p50, p95, p99 = (round(cli[k] * 1000, 1) for k in ("latency_p50", "latency_p95", "latency_p99"))
    assert shown["Latency p50 / p95 / p99"] == f"{p50:g} ms / {p95:g} ms / {p99:g} ms" == "300 ms / 450 ms / 450 ms"
    # The frame's summary (what the panel, rooms and exports read) is the CLI's, to its 6 digits.
    summary = page.evaluate("window.playground.lastFrame.summary")
    for key in ("sim_time", "throughput", "latency_p50", "latency_p95", "latency_p99"):
        assert summary[key] == round(cli[key], 6), (key, summary[key], cli[key])
    page.locator("#run-summary").screenshot(path=str(artifacts / "run-end-handbook.png"))
    # The header and the timeline say the same instant: the status to the CLI's three decimals,
    # and the timeline's thumb at its right end (the live run), not pulled back to a step below.
    expect(page.locator("#status-text")).to_have_text("The run finished at 0.450 s.")
    assert page.evaluate("() => { const r = document.querySelector('#timeline-range');"
                         " return Number(r.value) === Number(r.max) && Number(r.max) >= 0.45; }")
