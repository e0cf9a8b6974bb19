"""The code view on the page (issue 11): the program of the current scenario, its 3.11 variant
on a toggle, the lines a change altered marked, and an event log line pointing at its code."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from test_page import open_page, set_field, wait_frame


def test_the_program_beside_the_run(page, server, artifacts):
    open_page(page, server, "preset=webhook-ingestion", frames=2)
    code = page.locator("#code")
    expect(code).to_contain_text("queue.shutdown()  # then each worker's get() raises QueueShutDown")
    expect(code).to_contain_text("QUEUE_SIZE = 40")
    # A change marks the lines it altered, for a moment.
    set_field(page, "queue", 20)
    expect(page.locator("#code .changed", has_text="QUEUE_SIZE = 20")).to_have_count(1)
    expect(page.locator("#code .changed", has_text="QUEUE_SIZE")).to_have_count(1)  # that line only
    expect(page.locator("#code .changed")).to_have_count(0, timeout=6000)
    # An event log line points at the line of code that printed it.
    wait_frame(page, "f => f.state.totals.rejected > 0")
    page.locator("#event-log li.ev-rejected").last.click()
    pointed = page.locator("#code .pointed")
    expect(pointed).to_have_count(1)
    expect(pointed).to_contain_text('log(f"rejected {item}: queue full")')
    expect(page.locator("#code-status")).to_contain_text("prints that event")
    page.locator(".code-panel").scroll_into_view_if_needed()
    inside = page.evaluate("""() => { const box = document.getElementById('code').getBoundingClientRect();
        const line = document.querySelector('#code .pointed').getBoundingClientRect();
        return line.top >= box.top && line.bottom <= box.bottom; }""")
    assert inside, "the pointed line is scrolled into the code box's view"
    page.locator(".code-panel").screenshot(path=str(artifacts / "code-view-webhook.png"))
    # The 3.11 variant on the toggle, and the download follows it.
    page.select_option("#code-python", "3.11")
    expect(code).to_contain_text("await queue.put(None)")
    expect(page.locator("#code-download")).to_have_attribute("download", "webhook-ingestion-py311.py")
    href = page.locator("#code-download").get_attribute("href")
    assert href.startswith("/api/code/3.11/program.py?") and "queue=20" in href


def test_the_run_downloads_as_csv_trace_and_summary(page, server, tmp_path):
    open_page(page, server, "preset=webhook-ingestion", frames=2)
    wait_frame(page, "f => f.t >= 2")
    files = {}
    for button in ("export-csv", "export-trace", "export-summary"):
        with page.expect_download() as info:
            page.locator(f"#{button}").click()
        download = info.value
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        files[button] = (download.suggested_filename, path.read_text())
    name, csv_text = files["export-csv"]
    assert name == "backpressure-webhook-ingestion-windows.csv"
    header, *rows = csv_text.strip().split("\n")
    assert header.startswith("t,arrival_rate,throughput,goodput,rejected") and len(rows) >= 4
    assert all(len(row.split(",")) == len(header.split(",")) for row in rows)
    name, trace_text = files["export-trace"]
    assert name == "backpressure-webhook-ingestion-trace.txt" and " produce " in trace_text
    import json
    name, summary_text = files["export-summary"]
    summary = json.loads(summary_text)
    assert name == "backpressure-webhook-ingestion-summary.json"
    assert summary["link"] == "v=1&preset=webhook-ingestion" and summary["arrived"] > 0
    assert summary["completed"] + summary["rejected"] + summary["in_system"] == summary["arrived"]


def test_theory_beside_the_data(page, server, artifacts):
    open_page(page, server, "preset=webhook-ingestion", frames=2)
    page.select_option("#speed", "20")
    wait_frame(page, "f => f.t >= 40", timeout=30_000)
    theory = page.locator("#theory")
    expect(theory).to_contain_text("Utilisation ρ = λ·S / c = 60.0/s × 100 ms / 4 = 1.50")
    expect(theory).to_contain_text(re.compile(r"Little's law over the last 3[01] s: L = [\d.]+ items"))
    expect(theory).to_contain_text("M/M/4/44 predicts throughput 40.0/s (measured")
    page.locator(".theory-panel").screenshot(path=str(artifacts / "theory-webhook.png"))
    # The same predictions are the charts' reference lines, said in the charts' labels too.
    references = page.evaluate("window.playground.charts.references")
    assert abs(references["throughput"]["value"] - 40.0) < 1e-5
    assert abs(references["queue"]["value"] - 38.0) < 1e-5  # M/M/4/44: mean number waiting
    expect(page.locator("canvas.chart[data-chart=throughput]")).to_have_attribute(
        "aria-label", re.compile(r"M/M/4/44: throughput 40\.0 /s"))
    page.locator(".charts-panel").screenshot(path=str(artifacts / "theory-reference-lines.png"))
    open_page(page, server, "preset=unbounded-oom", frames=2)
    expect(theory).to_contain_text("The unbounded queue grows by about 20.0 items/s: out of memory in about")
    expect(theory).to_contain_text("Queueing theory has no exact formula here: a memory limit crashes the service.")
    assert page.evaluate("window.playground.charts.references") == {}
