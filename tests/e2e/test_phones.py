"""Every scenario on a student's phone (issue 20, items 3, 4 and 7).

For every preset, every comparison and a few links at the vocabulary's limits, a room is made
(POST /api/rooms) and its page /r/CODE opened on a 390x844 phone: the pipeline canvas draws (its
pixels are read), the console stays clean, and a comparison shows A and B with numbers for both.
A phone that watched a scenario with many workers keeps drawing when the teacher opens another
link; and at 390x844 and 360x640 the key numbers do not overlap and no canvas text is under 11 px.

One server (the session's), one browser and one phone context per module: the whole file runs in
well under two minutes. Screenshots of a phone at each comparison go to tests/e2e/artifacts/.
"""

from __future__ import annotations

import httpx
import pytest
from test_page import wait_js

from playground.teach import course

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
SMALL_PHONE = {**PHONE, "viewport": {"width": 360, "height": 640}}
#: Links at the vocabulary's limits: the most workers with no semaphore and the largest queue, as
#: many permits as workers, no queue at all under the highest rate, the printed handbook's failure.
LIMITS = ["v=1&workers=256&limit=0&queue=10000", "v=1&workers=256&limit=256", "v=1&queue=0&rate=2000",
          "v=1&preset=handbook-as-printed"]

#: The share of the canvas's sampled pixels that must differ from its background.
INKED = 0.02
COUNT_INK = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || !canvas.width || !canvas.height || canvas.offsetParent === null) return -1;
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const bg = [d[0], d[1], d[2]];
  let inked = 0, seen = 0;
  for (let i = 0; i < d.length; i += 4 * 7) {
    seen += 1;
    if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 40) inked += 1;
  }
  return inked / seen;
}"""


def comparison_problems(page) -> list[str]:
    """What a phone showing a comparison gets wrong: B's pipeline blank, the sides not labelled
    A and B, or a side's key numbers without a digit."""
    problems = []
    ink_b = page.evaluate(COUNT_INK, "pipeline-b")
    if ink_b < INKED:
        problems.append(f"B's pipeline is blank ({ink_b:.3f} inked)")
    labels = page.evaluate("() => [...document.querySelectorAll('.room-side-label')]"
                           ".map(n => n.offsetParent ? n.textContent : '')")
    if len(labels) != 2 or not labels[0].startswith("A") or not labels[1].startswith("B"):
        problems.append(f"the sides are labelled {labels}")
    for side in ("a", "b"):
        values = page.evaluate(f"() => [...document.querySelectorAll('#room-numbers-{side} dd')]"
                               ".map(n => n.offsetParent ? n.textContent : '')")
        if len(values) < 4 or not any(any(c.isdigit() for c in v) for v in values):
            problems.append(f"side {side.upper()}'s numbers are {values}")
    return problems


def _presets(server) -> list[dict]:
    return httpx.get(f"{server.url}/api/presets", timeout=5).json()


def _is_comparison(link: str) -> bool:
    return "-vs-" in link or any(part.startswith("b.") for part in link.split("&"))


class Phone:
    """One phone page, reused for every room; collects its console errors and page errors."""

    def __init__(self, browser, options):
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def _console(self, message) -> None:
        if message.type == "error" and "favicon.ico" not in (message.location or {}).get("url", ""):
            self.errors.append(f"console error: {message.text}")

    def join(self, server, code: str, frames: int = 6) -> None:
        self.errors.clear()
        self.page.goto(f"{server.url}/r/{code}")
        wait_js(self.page, "n => window.playground && window.playground.frames >= n"
                           " && window.playground.firstDrawAt !== null", arg=frames)
        self.page.wait_for_timeout(250)  # a few more draws

    def ink(self, canvas: str = "pipeline") -> float:
        return self.page.evaluate(COUNT_INK, canvas)

    def close(self) -> None:
        self.context.close()


class Teacher:
    """A room made over HTTP: its code and the session (with its token) that drives it."""

    def __init__(self, server, link: str):
        self.server = server
        answer = httpx.post(f"{server.url}/api/rooms", json={"link": link}, timeout=10)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        self.code = body["code"]
        self.session = body["session"]

    def control(self, body: dict) -> dict:
        url = self.session["control"]
        url = url if url.startswith("http") else self.server.url + url
        answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {self.session['token']}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def end(self) -> None:
        url = f"{self.server.url}/api/sessions/{self.session['id']}"
        httpx.delete(url, headers={"Authorization": f"Bearer {self.session['token']}"}, timeout=5)


@pytest.fixture(scope="module")
def phone(browser):
    one = Phone(browser, PHONE)
    yield one
    one.close()


def _links(server) -> list[str]:
    """Every preset, the limits, and every step of every shipped lesson (steps that are not a
    preset's own link: the ones a class sees only in a lesson)."""
    links = [p["link"] for p in _presets(server)] + LIMITS
    steps = [step.link for lesson in course.lessons().values() for step in lesson.steps]
    return links + [link for link in dict.fromkeys(steps) if link not in links]


def test_every_preset_comparison_and_limit_draws_on_a_phone(server, phone, artifacts):
    links = _links(server)
    assert sum(_is_comparison(link) for link in links) >= 5, links
    failures = []
    for link in links:
        teacher = Teacher(server, link)
        try:
            phone.join(server, teacher.code)
            ink = phone.ink()
            if ink < INKED:
                failures.append(f"{link}: the pipeline is blank ({ink:.3f} of its pixels inked)")
            comparing = phone.page.evaluate("() => Boolean(window.playground.compare)")
            if comparing != _is_comparison(link):
                failures.append(f"{link}: comparing is {comparing}")
            if comparing:
                failures.extend(f"{link}: {problem}" for problem in comparison_problems(phone.page))
                name = link.split("preset=")[-1].split("&")[0] if "preset=" in link else "compare"
                phone.page.screenshot(path=str(artifacts / f"phone-{name}.png"), full_page=True)
            failures.extend(f"{link}: {error}" for error in phone.errors)
        finally:
            teacher.end()
    assert not failures, "\n".join(failures)


def test_a_phone_keeps_drawing_after_the_teacher_opens_another_link(server, phone):
    teacher = Teacher(server, "v=1&preset=no-semaphore")
    try:
        phone.join(server, teacher.code, frames=10)
        assert phone.ink() >= INKED
        runs = set()
        for link in ("v=1&preset=semaphore-vs-none", "v=1&preset=webhook-ingestion", "v=1&workers=256&limit=0"):
            run = phone.page.evaluate("window.playground.lastFrame.run")
            teacher.control({"open": link})
            wait_js(phone.page, "run => window.playground.lastFrame.run !== run", arg=run)
            frames = phone.page.evaluate("window.playground.frames")
            wait_js(phone.page, "n => window.playground.frames >= n", arg=frames + 6)
            phone.page.wait_for_timeout(200)
            runs.add(phone.page.evaluate("window.playground.lastFrame.run"))
            assert phone.ink() >= INKED, f"blank after the teacher opened {link}"
            drawn = phone.page.evaluate("window.playground.drawnFrames")
            assert drawn and drawn > 0, drawn
        assert len(runs) == 3
        assert not phone.errors, phone.errors
    finally:
        teacher.end()


@pytest.mark.parametrize("options", [PHONE, SMALL_PHONE], ids=["390x844", "360x640"])
def test_nothing_overlaps_on_a_phone_and_no_canvas_text_is_small(server, browser, options, artifacts):
    one = Phone(browser, options)
    try:
        for link in ("v=1&preset=semaphore-vs-none", "v=1&preset=no-semaphore", "v=1&preset=bursty-pipeline"):
            teacher = Teacher(server, link)
            try:
                one.join(server, teacher.code, frames=20)
                boxes = one.page.evaluate("""() => [...document.querySelectorAll('.room-numbers > div')]
                    .filter(n => n.offsetParent).map(n => {
                      const r = n.getBoundingClientRect();
                      const dt = n.querySelector('dt').getBoundingClientRect(), dd = n.querySelector('dd').getBoundingClientRect();
                      return {text: n.textContent, x: r.x, y: r.y, w: r.width, h: r.height,
                              gap: dd.left - dt.right, right: r.right, vw: document.documentElement.clientWidth};
                    })""")
                assert len(boxes) >= 4, boxes
                for i, a in enumerate(boxes):
                    assert a["gap"] >= 4, f"{link}: term and value run together: {a}"
                    assert a["right"] <= a["vw"] + 0.5, f"{link}: cut off: {a}"
                    for b in boxes[i + 1:]:
                        apart = (a["x"] + a["w"] <= b["x"] + 0.5 or b["x"] + b["w"] <= a["x"] + 0.5
                                 or a["y"] + a["h"] <= b["y"] + 0.5 or b["y"] + b["h"] <= a["y"] + 0.5)
                        assert apart, f"{link}: {a['text']!r} overlaps {b['text']!r}"
                # The canvas's texts: none under 11 CSS px, none over another.
                for canvas in ("pipeline", "pipeline-b"):
                    found = one.page.evaluate("""(id) => {
                        const c = document.getElementById(id);
                        if (!c || c.offsetParent === null) return null;
                        return {min: Number(c.dataset.minFontPx)};
                    }""", canvas)
                    if found is None:
                        continue
                    assert found["min"] >= 11, f"{link} {canvas}: a text of {found['min']} px"
                overlaps = one.page.evaluate("""() => [window.playground.pipeline, window.playground.pipelineB]
                    .filter(p => p && p.canvas.offsetParent).flatMap(p => p.textOverlaps())""")
                assert not overlaps, f"{link}: canvas texts overlap: {overlaps}"
                name = options["viewport"]["width"]
                for preset in ("semaphore-vs-none", "bursty-pipeline"):  # many workers; closed producers
                    if f"preset={preset}" in link:
                        one.page.screenshot(path=str(artifacts / f"phone-{name}-{preset}.png"), full_page=True)
                assert not one.errors, one.errors
            finally:
                teacher.end()
    finally:
        one.close()
