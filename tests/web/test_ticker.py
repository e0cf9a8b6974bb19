"""The frame ticker's pace (stream.py): every phase once per interval, the interval the governor
sets, and rounds that count up one at a time."""

from __future__ import annotations

import asyncio
import time

from playground.web.sessions import SessionManager
from playground.web.settings import Settings
from playground.web.stream import PHASES, Ticker


class RecordingTicker(Ticker):
    """Records when each phase ran instead of writing to streams."""

    def __init__(self, manager):
        super().__init__(manager)
        self.visits: list[tuple[float, int]] = []  # (time, round)
        for phase in self.phases:
            phase[object()] = None  # one stand-in stream per phase, so every phase runs

    def tick(self, streams, now):
        self.visits.append((now, self.manager.round))


def _run_for(ticker: Ticker, seconds: float, widen_after: float | None = None, wider: float = 0.1) -> None:
    async def main():
        task = asyncio.ensure_future(ticker.run())
        if widen_after is not None:
            await asyncio.sleep(widen_after)
            ticker.manager.governor.interval = wider  # what the governor does under saturation
            await asyncio.sleep(seconds - widen_after)
        else:
            await asyncio.sleep(seconds)
        task.cancel()

    asyncio.run(main())


def test_every_phase_runs_once_per_interval_and_rounds_count_by_one():
    manager = SessionManager(Settings(), clock=time.monotonic)
    ticker = RecordingTicker(manager)
    _run_for(ticker, 1.0)
    rounds = [r for _, r in ticker.visits]
    assert rounds == sorted(rounds) and set(rounds) == set(range(1, rounds[-1] + 1))
    assert all(rounds.count(r) == PHASES for r in range(1, rounds[-1]))  # each round: every phase once
    assert 17 <= rounds[-1] <= 21  # 20 rounds a second, on a busy machine a little fewer


def test_a_wider_interval_slows_the_ticker_and_does_not_stop_it():
    """The governor widening the interval (a saturated process) made the ticker sleep for hours:
    the next slot was k × the new slot, and every stream stopped at 0 frames/s (bench/load.py,
    500 clients)."""
    manager = SessionManager(Settings(), clock=time.monotonic)
    ticker = RecordingTicker(manager)
    _run_for(ticker, 1.5, widen_after=0.5, wider=0.1)
    start = ticker.visits[0][0]
    late = [r for t, r in ticker.visits if t > start + 0.6]
    assert late, "the ticker stopped when the interval widened"
    rounds_in_late_part = late[-1] - late[0] + 1
    assert 7 <= rounds_in_late_part <= 10.5  # about 0.9 s at 10 rounds a second
