"""The longest pauses a server process makes while a session holds tens of thousands of items:
collector pauses (automatic ones and the reaper's full ``gc.collect()``), and the longest single
frame of work (catch_up + frame) of that session. In process, no sockets.

    python bench/pauses.py                      # 50,000 items held; with and without gc.freeze
    python bench/pauses.py --items 100000 --seconds 20

Each row runs in a fresh subprocess: the app is created as the server creates it (every module
imported, templates loaded), then ``--link`` runs at 20 frames/s of a fake clock (as fast as the
machine goes) until it holds ``--items`` items, then ``--seconds`` more of frames while every
collector pause is timed (``gc.callbacks``); then three full collections, as the reaper's.
``freeze`` is what the server does at startup (app.py, lifespan): ``gc.freeze()`` once the app is
built, so the collector never walks the modules, classes and templates again.
Target (issue 23): no collector pause over 20 ms with 50,000 items held.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

LINK = "v=1&rate=2000&workers=1&limit=1&queue=0&service_time=0.1"


def measure(freeze: bool, items: int, seconds: float, link: str) -> dict:
    import gc

    from playground.model.scenario import Scenario
    from playground.web.app import create_app
    from playground.web.sessions import Cursor, SessionManager
    from playground.web.settings import Settings

    settings = Settings(max_items=max(items * 2, 50_000), state="none")
    create_app(settings)
    if freeze:
        gc.collect()
        gc.freeze()
    clock = [1000.0]
    manager = SessionManager(settings, clock=lambda: clock[0])
    session = manager.create(Scenario.from_link(link), "bench")
    session.watched = True
    cursor = Cursor()
    session.frame(cursor, full=True)
    pauses: list[float] = []
    started = [0.0]

    def timing(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - started[0], info["generation"]))

    while session.engine.metrics.in_system < items:
        clock[0] += 0.05
        session.catch_up(clock[0])
        session.frame(cursor)
    gc.callbacks.append(timing)
    longest_frame = 0.0
    for _ in range(int(seconds * 20)):
        clock[0] += 0.05
        t = time.perf_counter()
        session.catch_up(clock[0])
        session.frame(cursor)
        longest_frame = max(longest_frame, time.perf_counter() - t)
    gc.callbacks.remove(timing)
    full = []
    for _ in range(3):
        t = time.perf_counter()
        gc.collect()
        full.append(time.perf_counter() - t)
    return {"freeze": freeze, "held": session.engine.metrics.in_system, "tracked": len(gc.get_objects()),
            "auto": len(pauses), "auto_max_ms": max((p for p, _ in pauses), default=0) * 1000,
            "gen2": sum(1 for _, g in pauses if g == 2), "full_ms": sorted(full)[1] * 1000,
            "frame_max_ms": longest_frame * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="sim seconds of frames, timed")
    parser.add_argument("--link", default=LINK)
    parser.add_argument("--one", choices=["freeze", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one == "freeze", args.items, args.seconds, args.link)))
        return
    print(f"pauses: {args.link!r} holding {args.items:,} items, {args.seconds:g} s of frames at 20/s")
    print(f"{'gc.freeze':>9} {'held':>7} {'tracked':>9} {'auto':>5} {'gen2':>5} {'auto max ms':>11} "
          f"{'full collect ms':>15} {'frame max ms':>12}")
    for mode in ("plain", "freeze"):
        out = subprocess.run([sys.executable, __file__, "--one", mode, "--items", str(args.items),
                              "--seconds", str(args.seconds), "--link", args.link],
                             capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{mode:>9} {row['held']:>7,} {row['tracked']:>9,} {row['auto']:>5} {row['gen2']:>5} "
              f"{row['auto_max_ms']:>11.1f} {row['full_ms']:>15.1f} {row['frame_max_ms']:>12.1f}")


if __name__ == "__main__":
    main()
