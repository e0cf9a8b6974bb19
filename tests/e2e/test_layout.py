"""The page at the four screen sizes a new user tried (issue 8, items 9 and 10): the pipeline stays
in view on a phone while the controls scroll, the projector theme fits a 1280x720 projector with
the pipeline whole and its canvas text grown, the header does not wrap at 1024x768, and canvas
labels stay legible on a phone. Each size leaves a screenshot in ``tests/e2e/artifacts/``.
"""

from __future__ import annotations

import pytest
from test_page import open_page, wait_frame, wait_js

SIZES = {"1440x900": (1440, 900), "1280x720": (1280, 720), "1024x768": (1024, 768), "390x844": (390, 844)}


def _rect(page, selector: str) -> dict:
    return page.evaluate("s => { const r = document.querySelector(s).getBoundingClientRect();"
                         " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,"
                         " height: r.height, width: r.width}; }", selector)


def _smallest_canvas_text(page) -> float:
    """The smallest font size (CSS px) the pipeline canvas drew text in, from its last layout."""
    return page.evaluate("() => window.playground.pipeline.lastLayout?.smallestText || 0")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_page_at_each_size_keeps_the_pipeline_whole_in_the_first_screen(new_page, server, artifacts, size):
    width, height = SIZES[size]
    page = new_page(viewport={"width": width, "height": height})
    open_page(page, server, "preset=background-jobs", frames=3)
    wait_frame(page, "f => f.t >= 3")  # the queue has filled: backpressure shows
    canvas = _rect(page, "#pipeline")
    assert canvas["top"] >= 0 and canvas["bottom"] <= height, (size, canvas)
    assert canvas["height"] >= 200, (size, canvas)
    # Nothing spills sideways: no horizontal scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= width, size
    assert _smallest_canvas_text(page) >= 11, size
    page.screenshot(path=str(artifacts / f"layout-{size}.png"))


def test_the_header_is_one_line_at_1024x768(new_page, server):
    page = new_page(viewport={"width": 1024, "height": 768})
    open_page(page, server, frames=2)
    title, tools = _rect(page, "header.top h1"), _rect(page, ".top-tools")
    assert abs(title["top"] - tools["top"]) < title["height"], (title, tools)


def test_on_a_phone_the_pipeline_stays_in_view_while_the_controls_scroll(new_page, server, artifacts):
    page = new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                    has_touch=True)
    open_page(page, server, "preset=no-semaphore", frames=3)
    page.focus("#field-limit")  # tabbing to the slider scrolls it into view, below the pipeline
    page.wait_for_timeout(200)
    control = page.locator("#field-limit").bounding_box()
    label = page.locator("label[for='field-limit']").bounding_box()
    canvas = _rect(page, "#pipeline")
    assert 0 <= control["y"] and control["y"] + control["height"] <= 844, control
    assert canvas["top"] >= 0 and canvas["bottom"] <= 844, canvas  # still in view beside it
    panel = _rect(page, ".pipeline-panel")
    assert panel["bottom"] <= label["y"] + 1, (panel, label)  # and not covering it or its label
    assert canvas["height"] >= 180, canvas
    assert _smallest_canvas_text(page) >= 11
    page.screenshot(path=str(artifacts / "layout-390x844-semaphore.png"))


def test_the_projector_theme_fits_1280x720_with_the_pipeline_whole_and_larger_text(new_page, server, artifacts):
    page = new_page(viewport={"width": 1280, "height": 720})
    open_page(page, server, "preset=unbounded-oom", frames=3)
    normal = _smallest_canvas_text(page)
    page.select_option("#theme", "projector")
    wait_js(page, "() => document.documentElement.dataset.theme === 'projector'")
    wait_frame(page, "f => f.t >= 2")
    page.wait_for_timeout(300)  # a few draws in the new theme
    assert _smallest_canvas_text(page) >= normal * 1.2, "the canvas text did not grow in the projector theme"
    panel = _rect(page, ".pipeline-panel")
    assert panel["top"] >= 0 and panel["bottom"] <= 720, panel  # buttons, canvas, all of it
    page.screenshot(path=str(artifacts / "layout-1280x720-projector.png"))
