"""Memory that comes back (issue 18, item 8): sessions and rooms created, watched and abandoned,
round after round, against a real server; once each round is reaped, RSS stays within 10 % of
where the first round left it.

The rounds are bench/churn.py's, smaller (about 45 s in all). Before the fix an ended session's
engine (a web of cycles) waited for a full collection that the server's GC thresholds never ran:
RSS grew by megabytes a round and never came back.

``SOAK_CHECKOUT=/path/to/other/checkout`` runs the same test against another checkout's server
(to show it failing on the old code).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import churn  # noqa: E402

ROUNDS = 5
SLACK = 0.10


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_rss_after_churn_rounds_is_flat_and_everything_is_reaped():
    checkout = Path(os.environ.get("SOAK_CHECKOUT", ROOT))
    server = churn.Served(checkout, grace=churn.GRACE, max_rooms_per_client=50)
    try:
        readings = []
        for _ in range(ROUNDS):
            done = asyncio.run(churn.churn_round(server.url, sessions=45, rooms=9, watch=1.0))
            assert done["streams"] == 54 and done["bytes"] > 0
            churn.wait_reaped(server.url, timeout=20)  # raises unless 0 sessions and 0 streams
            churn.time.sleep(3.0)  # the reaper's collection after the last sessions ended
            readings.append(server.rss_mb())
    finally:
        server.stop()
    first, last = readings[0], readings[-1]
    shown = ", ".join(f"{mb:.1f}" for mb in readings)
    assert last <= first * (1 + SLACK), f"RSS per round (MB): {shown}; the last is {100 * (last / first - 1):+.1f} %"


def test_the_collector_frees_ended_sessions_engines_within_its_time_share():
    import gc
    import weakref

    from playground.model.scenario import Scenario
    from playground.web import memory
    from playground.web.sessions import SessionManager
    from playground.web.settings import Settings

    now = [1000.0]
    manager = SessionManager(Settings(), clock=lambda: now[0])
    collector = memory.Collector(clock=lambda: now[0])
    session = manager.create(Scenario.from_link("v=1&preset=webhook-ingestion"), "c")
    session.watched = True
    for _ in range(20):
        now[0] += 0.05
        session.catch_up(now[0])
    engine = weakref.ref(session.engine)
    gc.disable()  # as under the server's thresholds: nothing else collects
    try:
        manager.end(session, "done")
        del session
        assert engine() is not None  # a cycle: not freed when its last reference goes
        assert collector.after_reaping(manager.ended_total)
        assert engine() is None
        assert not collector.after_reaping(manager.ended_total)  # spaced: not again at once
    finally:
        gc.enable()
