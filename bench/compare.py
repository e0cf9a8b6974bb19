"""Compare mode's cost per frame: a session running A and B against single sessions of A and of B.

One frame of a session is what a stream's tick does: ``catch_up`` (advance the engines by one frame
interval of wall time x speed, within the work budget), ``frame`` (snapshot, windows, events,
theory; for a comparison B's too and the outcomes table) and ``frames.encode``. Each run times
``--frames`` consecutive frames of a fresh session, in process, on a fake clock; the three kinds
(A alone, B alone, A and B) alternate within each repeat so a noisy moment hits all alike.

Target (issue 11): a comparison costs at most 2x a single session per frame. "A single session"
is the dearer of A alone and B alone (B may run a heavier service than A: its engine's own work is
not the comparison's overhead). Printed: median microseconds per frame of each kind; compare /
max(A, B), the verdict's ratio; and compare / (A + B), the overhead of showing two services in one
frame (1.0: none).

    python bench/compare.py                       # the comparison presets, 600 frames at 1x and 20x
    python bench/compare.py --frames 1200 --repeats 7
    python bench/compare.py --link 'v=1&preset=webhook-ingestion&b.policy=drop-oldest'
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.web import frames  # noqa: E402
from playground.model.compare import Comparison  # noqa: E402
from playground.model.presets import PRESETS  # noqa: E402
from playground.web.sessions import Cursor, Session  # noqa: E402
from playground.web.settings import Settings  # noqa: E402

TARGET = 2.0


def comparison_links() -> list[str]:
    """Every comparison preset's link (a preset whose link opens two services)."""
    links = [preset.link for preset in PRESETS.values() if Comparison.from_link(preset.link).b is not None]
    return links or ["v=1&preset=webhook-ingestion&b.policy=drop-oldest"]


def time_frames(a, b, speed: float, count: int) -> float:
    """Seconds per frame over ``count`` frames of a fresh session showing A (and B if given)."""
    settings = Settings()
    session = Session("bench", "token", "client", a, settings, now=0.0, b=b)
    session.watched = True
    session.speed = speed
    cursor = Cursor()
    interval = 1 / settings.frame_rate
    frames.encode(session.frame(cursor, full=True))
    started = time.perf_counter()
    now = 0.0
    for _ in range(count):
        now += interval
        session.catch_up(now)
        frames.encode(session.frame(cursor))
    return (time.perf_counter() - started) / count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--link", action="append", help="a comparison link (repeatable); default: the comparison presets")
    parser.add_argument("--frames", type=int, default=600, help="frames per run (600: 30 s at 20 frames/s)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--speeds", type=float, nargs="+", default=[1.0, 20.0])
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()} on {platform.platform()}; {os.cpu_count()} CPUs; "
          f"loadavg {os.getloadavg()[0]:.2f}")
    print(f"{args.frames} frames per run, {args.repeats} interleaved repeats, medians, microseconds per frame\n")
    print(f"{'link':<58} {'speed':>5} {'A alone':>8} {'B alone':>8} {'A and B':>8} {'AB/max':>7} {'AB/(A+B)':>9}")
    worst = 0.0
    for link in args.link or comparison_links():
        comparison = Comparison.from_link(link)
        if comparison.b is None:
            raise SystemExit(f"{link} is not a comparison (it has no b. keys)")
        for speed in args.speeds:
            times = {"a": [], "b": [], "ab": []}
            for _ in range(args.repeats):
                times["a"].append(time_frames(comparison.a, None, speed, args.frames))
                times["b"].append(time_frames(comparison.b, None, speed, args.frames))
                times["ab"].append(time_frames(comparison.a, comparison.b, speed, args.frames))
            a, b, ab = (statistics.median(times[key]) * 1e6 for key in ("a", "b", "ab"))
            worst = max(worst, ab / max(a, b))
            print(f"{link[:58]:<58} {speed:>5g} {a:>8.0f} {b:>8.0f} {ab:>8.0f} {ab / max(a, b):>7.2f} "
                  f"{ab / (a + b):>9.2f}")
    print(f"\nworst compare / max(A alone, B alone): {worst:.2f} (target <= {TARGET:g}: "
          f"{'OK' if worst <= TARGET else 'MISSED'})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
