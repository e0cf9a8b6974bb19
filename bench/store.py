"""The state file's costs: what a control costs to write, and how long a restart takes to restore.

1. Write cost per control: a session takes ``--controls`` bursts, each followed by a flush (what
   the keeper does every 0.25 s with one changed session). Printed: the microseconds a flush takes
   on the event loop (making the record: no I/O), and the writer thread's milliseconds per
   transaction (one session row and its new log entry, WAL, synchronous=NORMAL).
2. Restore time: ``--sessions`` sessions of ``--link`` run ``--until`` s of sim time (with a
   hiccup at 5 s, so each replays a control log), are written, and restored by a new keeper through
   the replay budget, as a restarted server does. Printed: wall seconds until every one is back.

    python bench/store.py
    python bench/store.py --sessions 100 --until 300 --link 'v=1&preset=retry-storm'
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio  # noqa: E402

from playground.model.scenario import Scenario  # noqa: E402
from playground.web.keeper import RESTORE_BUDGETS, Keeper  # noqa: E402
from playground.web.rooms import RoomManager  # noqa: E402
from playground.web.sessions import SessionManager  # noqa: E402
from playground.web.settings import Settings  # noqa: E402
from playground.web.store import open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--link", default="v=1&preset=webhook-ingestion")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--until", type=float, default=120.0)
    parser.add_argument("--controls", type=int, default=500)
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "state.sqlite3")

        # 1. Write cost per control.
        store, _, _ = open_store(path)
        manager = SessionManager(settings)
        keeper = Keeper(store, manager, RoomManager(manager))
        session = manager.create(Scenario.from_link(args.link), "bench")
        flushes = []
        for n in range(args.controls):
            session.a.engine.advance(n * 0.1)
            session.a.engine.apply({"action": "burst", "n": 5})
            keeper.touch(session)
            start = time.perf_counter()
            keeper.flush(checkpoint=False)
            flushes.append(time.perf_counter() - start)
            store.flushed()
        per_write = store.write_seconds / max(1, store.writes)
        print(f"write per control: {statistics.median(flushes) * 1e6:.0f} µs on the loop (median), "
              f"{per_write * 1000:.2f} ms in the writer thread per transaction ({store.writes} transactions)")
        manager.end(session, "bench")
        store.flushed()

        # 2. Restore time.
        for _ in range(args.sessions):
            live = manager.create(Scenario.from_link(args.link), "bench")
            live.a.engine.advance(5.0, float("inf"))
            live.a.engine.apply({"action": "hiccup", "factor": 5, "seconds": 3})
            live.a.engine.advance(args.until)
        keeper.flush(checkpoint=True)
        store.close()

        store, sessions, rooms = open_store(path)
        manager = SessionManager(settings)
        again = Keeper(store, manager, RoomManager(manager))

        async def restore():
            again.restore(sessions, rooms)
            await again.rebuild()

        start = time.perf_counter()
        anyio.run(restore)
        elapsed = time.perf_counter() - start
        work = sum(s.a.engine.work for s in manager.sessions.values())
        print(f"restore: {len(manager.sessions)} sessions of {args.link} at {args.until:g} s "
              f"({work:,} callbacks, {RESTORE_BUDGETS} budgets of {settings.tick_budget} per "
              f"{1 / settings.frame_rate * 1000:.0f} ms) back in {elapsed:.2f} s")
        store.close()


if __name__ == "__main__":
    main()
