"""What one session's frame costs the server, part by part, in process (no sockets).

    python bench/frame.py                      # the default link, 2,000 frames at 20 fps
    python bench/frame.py --link preset=retry-storm --frames 4000
    python bench/frame.py --baseline /tmp/before   # the same, beside an older checkout's code
    python bench/frame.py --sessions 300 --frames 200   # 300 sessions in turn, as a loaded server

A session is created as the server creates one and driven by a fake clock 1/20 s per frame, as
the ticker drives it: ``catch_up`` (the simulation's work for the frame), ``frame`` (the dict the
stream sends), and its encoding as SSE bytes. Medians of µs per frame over the run, each part
timed on its own; ``--baseline`` runs the same in a subprocess on another checkout, interleaved
repeat by repeat, so both rows come from the same minutes of this shared machine.
``--sessions N`` drives N sessions of the link in turn each frame, as a server with N streams does
(then nothing stays in the CPU's caches between one session's frame and its next).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(link: str, frames: int, fps: int, sessions: int = 1) -> dict:
    import orjson

    from playground.model.scenario import Scenario
    from playground.web.sessions import Cursor, SessionManager
    from playground.web.settings import Settings

    import gc

    clock = [1000.0]
    settings = Settings(max_sessions=sessions + 10, max_sessions_per_client=sessions + 10)
    manager = SessionManager(settings, clock=lambda: clock[0])
    driven = []
    for index in range(sessions):
        session = manager.create(Scenario.from_link(link), f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")
        session.watched = True
        cursor = Cursor()
        session.frame(cursor, full=True)
        driven.append((session, cursor))
    gc.collect()
    gc.freeze()  # as the server does after start-up (app lifespan)
    parts = {"catch_up": [], "frame": [], "encode": []}
    perf = time.perf_counter
    for _ in range(frames):
        clock[0] += 1 / fps
        for session, cursor in driven:
            t0 = perf()
            session.catch_up(clock[0])
            t1 = perf()
            frame = session.frame(cursor)
            t2 = perf()
            b"id: %d\r\nevent: frame\r\ndata: %s\r\n\r\n" % (frame["n"], orjson.dumps(frame))  # the SSE bytes
            t3 = perf()
            parts["catch_up"].append(t1 - t0)
            parts["frame"].append(t2 - t1)
            parts["encode"].append(t3 - t2)
    session = driven[0][0]
    out = {name: statistics.median(values) * 1e6 for name, values in parts.items()}
    out["total"] = sum(out.values())
    out["sim_time"] = round(session.engine.now, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--link", default="v=1")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--fps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=1, help="sessions driven in turn each frame")
    parser.add_argument("--baseline", help="another checkout to measure beside this one")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a subprocess's single run
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.link, args.frames, args.fps, args.sessions)))
        return
    targets = [("this checkout", ROOT)] + ([("baseline " + args.baseline, Path(args.baseline))] if args.baseline else [])
    rows: dict[str, list[dict]] = {name: [] for name, _ in targets}
    for _ in range(args.repeats):
        for name, root in targets:
            result = subprocess.run([sys.executable, str(root / "bench" / "frame.py") if (root / "bench" / "frame.py").exists()
                                     else str(Path(__file__)), "--one", "--link", args.link,
                                     "--frames", str(args.frames), "--fps", str(args.fps)]
                                    + (["--sessions", str(args.sessions)] if args.sessions != 1 else []),
                                    cwd=root, capture_output=True, text=True,
                                    env={**os.environ, "PYTHONPATH": str(root)})
            if result.returncode:
                sys.exit(f"{name} failed:\n{result.stderr}")
            rows[name].append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"frame: link {args.link!r}, {args.frames} frames at {args.fps} fps, median of {args.repeats} "
          f"interleaved runs, µs per frame" + (f" ({args.sessions} sessions in turn)" if args.sessions != 1 else ""))
    print(f"{'target':<40} {'catch_up':>9} {'frame':>9} {'encode':>9} {'total':>9}  sim s")
    for name, runs in rows.items():
        med = {key: statistics.median(run[key] for run in runs) for key in ("catch_up", "frame", "encode", "total")}
        print(f"{name:<40} {med['catch_up']:9.1f} {med['frame']:9.1f} {med['encode']:9.1f} {med['total']:9.1f}  "
              f"{runs[0]['sim_time']}")


if __name__ == "__main__":
    main()
