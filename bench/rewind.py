"""Continue from here, and the timeline's seek: what going back in a run costs (issue 22, item 3).

Continue: for every preset, a 10-minute run (``--minutes``) with a hiccup at 1 min, then
"Continue from here" 60 s back: the session's ``_continue_from`` rebuilds both services by exact
replay through the replay budget (``REWIND_BUDGETS`` budgets a frame interval), as the server
does. Printed per preset: the wall time of the continue (median of ``--repeats``), the raw engine
time of the same replay unbudgeted (what a faster engine would buy), and the steps of work.
Target: <= 1 s.

Seek: the page's timeline in a real browser (chromium, as the tests find it): a 5-minute run of
``--seek-link`` at 20x, then ``--seeks`` moves of the slider to random moments; the page measures
each seek (``window.playground.seekMs``: finding the recorded moment and drawing it into the
pipeline, the questions and the charts' view) and the next animation frame's draw. Target: <= 100 ms.

    python bench/rewind.py                    # every preset, 3 repeats, then the seek
    python bench/rewind.py --presets retry-storm webhook-ingestion --repeats 1
    python bench/rewind.py --no-seek          # the continue only (no browser)
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from playground.model.presets import PRESETS  # noqa: E402
from playground.model.script import RunLink  # noqa: E402
from playground.sim.engine import Engine  # noqa: E402
from playground.web.sessions import REWIND_FRAMES, Session  # noqa: E402
from playground.web.settings import Settings  # noqa: E402

TARGET_CONTINUE_S = 1.0
TARGET_SEEK_MS = 100.0


def continue_once(name: str, minutes: float) -> tuple[float, float, int, str]:
    """(continue wall seconds, raw replay seconds, steps, outcome) for one preset."""
    end = minutes * 60
    link = f"{PRESETS[name].link}&do=60:hiccup=5x3"
    run = RunLink.from_link(link)
    settings = Settings(state="none")
    session = Session("bench", "t", "c", run.comparison.a, settings, now=0.0, b=run.comparison.b)
    session.play(run)
    for side in session.sides:  # the live run, unbudgeted (not what is measured)
        side.engine.advance(end)
    at = end - 60
    raw_started = time.perf_counter()
    for name_, scenario in (("a", run.comparison.a), ("b", run.comparison.b)):
        if scenario is not None:
            Engine.replay(scenario, run.log(name_), at, event_cap=10_000)
    raw = time.perf_counter() - raw_started
    started = time.perf_counter()
    try:
        anyio.run(session._continue_from, at, False, time.monotonic)
        outcome = "ok"
    except Exception as error:  # refused: past the replay's work cap
        outcome = f"refused: {str(error)[:70]}"
    wall = time.perf_counter() - started
    steps = sum(side.engine.work for side in session.sides)
    return wall, raw, steps, outcome


def bench_continue(presets: list[str], minutes: float, repeats: int) -> None:
    print(f"Continue from here, {minutes:g}-minute runs, 60 s back (cap {REWIND_FRAMES} frames of budget; "
          f"median of {repeats}):")
    print(f"{'preset':28s} {'continue':>9s} {'raw replay':>11s} {'steps':>9s}  outcome")
    for name in presets:
        rows = [continue_once(name, minutes) for _ in range(repeats)]
        wall = statistics.median(r[0] for r in rows)
        raw = statistics.median(r[1] for r in rows)
        mark = "" if wall <= TARGET_CONTINUE_S else "  > target"
        print(f"{name:28s} {wall:8.2f}s {raw:10.2f}s {rows[0][2]:9,d}  {rows[0][3]}{mark}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_seek(link: str, seeks: int) -> None:
    import browser_setup
    import httpx
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "PLAYGROUND_STATE": "none"}
    server = subprocess.Popen([sys.executable, "-m", "playground", "serve", "--port", str(port)], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = browser_setup.launch(p)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/?{link}")
            page.wait_for_function("() => window.playground && window.playground.lastFrame")
            page.select_option("#speed", "20")
            page.wait_for_function("() => window.playground.lastFrame.t >= 300", timeout=120_000)
            page.click("#pause")
            page.wait_for_timeout(500)
            recorded = page.evaluate("document.querySelector('#timeline-range').max")
            rng = random.Random(1)
            times, draws = [], []
            for _ in range(seeks):
                t = rng.uniform(0, 290)
                result = page.evaluate("""async (t) => {
                  const range = document.querySelector('#timeline-range');
                  const start = performance.now();
                  range.value = String(t);
                  range.dispatchEvent(new Event('input', {bubbles: true}));
                  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
                  return [window.playground.seekMs, performance.now() - start];
                }""", t)
                times.append(result[0])
                draws.append(result[1])
            browser.close()
        times.sort()
        draws.sort()
        print(f"\nTimeline seek on {link}, 5-minute run (slider max {float(recorded):.1f} s), {seeks} seeks:")
        print(f"  seek (find + draw into the views): median {statistics.median(times):.2f} ms, "
              f"p95 {times[int(0.95 * len(times)) - 1]:.2f} ms")
        print(f"  to the next painted frame:         median {statistics.median(draws):.1f} ms, "
              f"p95 {draws[int(0.95 * len(draws)) - 1]:.1f} ms   (target {TARGET_SEEK_MS:g} ms)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="*", default=list(PRESETS))
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-seek", action="store_true")
    parser.add_argument("--seek-link", default="preset=webhook-ingestion")
    parser.add_argument("--seeks", type=int, default=60)
    args = parser.parse_args()
    bench_continue(args.presets, args.minutes, args.repeats)
    if not args.no_seek:
        bench_seek(args.seek_link, args.seeks)


if __name__ == "__main__":
    main()
