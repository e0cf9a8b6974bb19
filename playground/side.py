"""One service of a session: its engine, and the rings of windows and events its streams read.

A session shows one service (A) or two on the same load (A and B, a comparison). Each side keeps
what a stream that falls behind may still need: the last metrics windows and the last events,
numbered so each stream's ``SideCursor`` knows what it has not seen yet.
"""

from __future__ import annotations

from collections import deque

from . import frames
from .explain import Explainer
from .scenario import Scenario
from .sim.engine import Engine

#: Events a side keeps for streams that fall behind (newest win).
EVENT_RING = 400


class Side:
    """One engine and what its streams read: windows and events since their last frame."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.explainer = Explainer()  # theory beside the data, over the last 30 s
        self.windows: deque = deque(maxlen=frames.HISTORY_WINDOWS)  # (index, row)
        self.events: deque = deque(maxlen=EVENT_RING)  # (seq, [t, kind, text])
        self.event_seq = 0
        self.events_skipped = 0  # reads that found the engine's own ring full
        self._outcomes: tuple | None = None  # (key, dict): run-wide outcomes, built once per instant

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

    def clear(self) -> None:
        """A new run on this side: nothing collected before it is shown again."""
        self.windows.clear()
        self.events.clear()

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

    def outcomes(self) -> dict:
        """The run so far in the figures a comparison table sets side by side (exact, run-wide),
        computed once per instant however many streams ask."""
        engine = self.engine
        key = (engine.now, engine.metrics.left, engine.metrics.arrived, engine.crashes)
        if self._outcomes is not None and self._outcomes[0] == key:
            return self._outcomes[1]
        summary = engine.summary()
        row = {name: frames._r(summary[name], 6) for name in OUTCOME_KEYS}
        self._outcomes = (key, row)
        return row


#: The comparison table's figures, from Engine.summary().
OUTCOME_KEYS = ("arrived", "completed", "rejected", "dropped", "put_timeouts", "stale", "timeouts",
                "throttled", "lost", "latency_p50", "latency_p95", "latency_p99", "peak_in_system",
                "crashes", "throughput")


class SideCursor:
    """What one stream has sent so far of one side: the last window and event."""

    __slots__ = ("window", "event")

    def __init__(self):
        self.window = -1
        self.event = 0


def new_engine(scenario: Scenario) -> Engine:
    return Engine(scenario, event_cap=EVENT_RING, keep_windows=8)
