"""One service of a session: its engine, and the rings of windows and events its streams read.

A session shows one service (A) or two on the same load (A and B, a comparison). Each side keeps
what a stream that falls behind may still need: the last metrics windows and the last events,
numbered so each stream's ``SideCursor`` knows what it has not seen yet.
"""

from __future__ import annotations

from collections import deque

from playground.model.scenario import Scenario
from playground.sim.engine import Engine
from playground.teach.explain import Explainer
from playground.web import frames

#: Events a side keeps for streams that fall behind (newest win).
EVENT_RING = 400
#: Wall seconds between theory blocks in a side's frames: the panel's sentences at a pace a
#: reader can follow (the page shows each as it comes), and a fifth of a frame's cost saved on
#: the nine frames in ten that carry none.
THEORY_EVERY = 0.5


class Side:
    """One engine and what its streams read: windows and events since their last frame."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.explainer = Explainer()  # theory beside the data, over the last 30 s
        self.windows: deque = deque(maxlen=frames.HISTORY_WINDOWS)  # (index, row)
        self.events: deque = deque(maxlen=EVENT_RING)  # (seq, [t, kind, text])
        self.event_seq = 0
        self.events_skipped = 0  # reads that found the engine's own ring full
        self._outcomes: tuple | None = None  # (wall time, run state, figures): see outcomes()
        self._theory: tuple[float, dict] | None = None  # (wall time, block) of the last theory block

    @classmethod
    def start(cls, scenario: Scenario) -> "Side":
        return cls(new_engine(scenario))

    def collect(self) -> None:
        """Move what the engine produced since the last call into the rings."""
        engine = self.engine
        for window in engine.read_windows():
            self.windows.append((window.index, frames.window(window)))
        raw = engine.read_events()
        if engine.events_overflowed:
            self.events_skipped += 1
        formatted, _ = frames.events(raw[-EVENT_RING:])
        for event in formatted:
            self.event_seq += 1
            self.events.append((self.event_seq, event))

    def theory(self, wall: float, force: bool = False) -> dict | None:
        """The theory block for a frame at ``wall``, when one is due (every THEORY_EVERY, or
        ``force``: a full frame); else None, once this instant is sampled.
        Frames of the same instant get the same block."""
        last = self._theory
        if last is not None and last[0] == wall:
            return last[1]
        if force or last is None or not 0 <= wall - last[0] < THEORY_EVERY:
            self._theory = (wall, self.explainer.block(self.engine))
            return self._theory[1]
        self.explainer.observe(self.engine)
        return None

    def unseen(self, cursor: "SideCursor") -> tuple[list, list, int]:
        """The windows and events ``cursor`` has not seen (newest events, capped), and how many
        unseen events were left out; moves the cursor on."""
        windows = self.windows
        # Window indexes are consecutive: the unseen ones are the last few.
        unseen_windows = min(windows[-1][0] - cursor.window, len(windows)) if windows else 0
        rows = [windows[i][1] for i in range(len(windows) - unseen_windows, len(windows))]
        if windows:
            cursor.window = windows[-1][0]
        # Event seqs are consecutive and the ring holds the newest: count back from its end.
        events = self.events
        unseen = min(self.event_seq - cursor.event, len(events))
        take = min(unseen, frames.FRAME_EVENTS)
        new_events = [events[i][1] for i in range(len(events) - take, len(events))]
        cursor.event = self.event_seq
        return rows, new_events, unseen - take

    def rewind(self, cursor: "SideCursor") -> None:
        """Make ``cursor`` see everything the rings still hold (a full frame)."""
        cursor.window = -1
        cursor.event = self.event_seq - len(self.events)

    def outcomes(self, wall: float) -> dict:
        """The run so far in the figures a comparison table sets side by side (exact, run-wide),
        refreshed at most every OUTCOMES_EVERY seconds of wall time (and when the run ends or
        crashes), however many streams ask: the summary's exact percentiles cost about a
        millisecond, far more than the rest of a frame (bench/compare.py)."""
        engine = self.engine
        state = (engine.finished, engine.crashes, engine.failure)
        if self._outcomes is not None:
            at, seen, row = self._outcomes
            if seen == state and 0 <= wall - at < OUTCOMES_EVERY:
                return row
        metrics = engine.metrics
        totals = engine.totals()
        row = {name: totals[name] for name in COUNTS}
        # What Engine.summary() says, without its copy of the latencies and its three sorts; with
        # each percentile, what its sample supports (the comparison marks it only outside that).
        for name, (value, bounds) in zip(("latency_p50", "latency_p95", "latency_p99"),
                                         metrics.latency.with_intervals(0.50, 0.95, 0.99)):
            row[name] = frames._r(value, 6)
            row[f"{name}_ci"] = None if bounds is None else [frames._r(bounds[0], 6), frames._r(bounds[1], 6)]
        row["peak_in_system"] = metrics.in_system_peak
        row["crashes"] = engine.crashes
        now = engine.ended_at if engine.finished else engine.now  # a finished run's own end
        row["throughput"] = frames._r(totals["completed"] / now if now > 0 else 0.0, 6)
        self._outcomes = (wall, state, row)
        return row


#: Wall seconds between two refreshes of the comparison table's figures.
OUTCOMES_EVERY = 0.5

#: The comparison table's counts, from Engine.totals(); its other figures are Engine.summary()'s
#: latency percentiles, peak_in_system, crashes and throughput.
COUNTS = ("arrived", "completed", "rejected", "dropped", "put_timeouts", "stale", "timeouts", "throttled", "lost")


class SideCursor:
    """What one stream has sent so far of one side: the last window and event."""

    __slots__ = ("window", "event")

    def __init__(self):
        self.window = -1
        self.event = 0


def new_engine(scenario: Scenario) -> Engine:
    return Engine(scenario, event_cap=EVENT_RING, keep_windows=8)
