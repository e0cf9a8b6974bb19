"""The theory panel reads the run (issue 21, item 1): retry-storm keeps up before its hiccup and
the panel says so; after it the run collapses and the panel says why, never that it keeps up,
though the nominal ρ is still 0.65."""

from __future__ import annotations

from playwright.sync_api import expect
from test_page import open_page, wait_frame


def test_the_retry_storms_theory_through_its_hiccup(page, server, artifacts):
    open_page(page, server, "preset=retry-storm", frames=2)
    page.select_option("#speed", "10")
    wait_frame(page, "f => f.t >= 12", timeout=20_000)
    theory = page.locator("#theory")
    expect(theory).to_contain_text("Utilisation ρ = λ·S / c = 65.0/s × 100 ms / 10 = 0.65: the service keeps up on average.")
    # At ×10 the hiccup's 3 s of run last 0.3 s of wall time, shorter than a loaded machine may take
    # to refresh the panel; at ×1 they last 3 s, so the check reads the panel while the hiccup is on.
    page.select_option("#speed", "1")
    pressed_at = page.evaluate("window.playground.lastFrame.t")
    page.click("#hiccup")
    # During the hiccup (3 s of the run), the panel says it is on or names it as the reason.
    expect(theory).to_contain_text("hiccup makes every call ×5.0 slower", timeout=5_000)
    page.select_option("#speed", "10")
    wait_frame(page, "(f, t) => f.t >= t + 40", arg=pressed_at, timeout=30_000)
    page.wait_for_timeout(700)  # the panel refreshes twice a second
    text = theory.inner_text()
    assert "keeps up" not in text, text
    assert "65.0/s × 100 ms / 10 = 0.65 with the nominal call time; but over the last 5.0 s" in text, text
    assert "more work arrives than the service can do at this pace" in text
    assert "% of the downstream's work is on calls that timed out" in text
    page.locator("#theory").screenshot(path=str(artifacts / "theory-retry-storm-after-hiccup.png"))
