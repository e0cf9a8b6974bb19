"""Sessions: one sandboxed simulation per browser tab, advanced in real time x speed.

A ``Session`` owns an engine and what a page controls about it (speed,
pause); each frame it catches the engine up with the wall clock, within a
work budget, so one heavy scenario falls behind real time instead of starving
the others. The ``SessionManager`` creates them under caps (reject new work
when full, the handbook's own policy), finds them, and reaps the ones nobody
watches.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import Counter, OrderedDict, deque

import anyio

from . import frames
from .errors import Forbidden, Full, Gone, Invalid, NotFound, TooManyRequests
from .explain import Explainer
from .scenario import Scenario, shown
from .governor import Governor
from .settings import Settings
from .sim.engine import Engine

ACTIONS = ("pause", "resume", "step", "reset", "burst", "drain", "hiccup")
SPEED_MIN, SPEED_MAX = 0.1, 20.0
#: Events a session keeps for streams that fall behind (newest win).
EVENT_RING = 400
#: Ended session ids remembered, so their streams answer 410, not 404.
ENDED_MEMORY = 10_000


#: What a finished frame's ``summary`` carries from Engine.summary().
SUMMARY_KEYS = ("throughput", "latency_mean", "latency_p50", "latency_p95", "latency_p99", "peak_in_system")


class Session:
    """One running simulation and the page's controls over it."""

    def __init__(self, session_id: str, token: str, client: str, scenario: Scenario,
                 settings: Settings, now: float):
        self.id = session_id
        self.token = token  # a separate secret: knowing the id lets you watch, not drive
        self.client = client
        self.settings = settings
        self.created = now
        self.engine = self._new_engine(scenario)
        self.explainer = Explainer()  # theory beside the data, over the last 30 s
        self.run = 0  # counts resets; a page clears its charts when it changes
        self.speed = 1.0
        self.paused = False
        self.wall = now  # the wall time the simulation has caught up to
        self.throttled = False
        self.effective_speed = 1.0
        self.halted: str | None = None  # the sandbox stopped this run, and why
        self.ended: str | None = None  # the session is over, and why
        self.streams = 0
        self.watched = False  # the clock starts when the first stream opens
        self.controlling = False  # a control is settling the present: hold the clock
        self.min_gap = 0.5 / settings.frame_rate  # one work budget per frame, not per stream
        self.idle_since = now  # when the last stream closed
        self.frame_number = 0
        self.windows: deque = deque(maxlen=frames.HISTORY_WINDOWS)  # (index, row)
        self.events: deque = deque(maxlen=EVENT_RING)  # (seq, [t, kind, text])
        self.event_seq = 0
        self.events_skipped = 0  # events that never made it into the ring
        self._tokens = float(settings.control_burst)
        self._tokens_at = now

    def _new_engine(self, scenario: Scenario) -> Engine:
        return Engine(scenario, event_cap=EVENT_RING, keep_windows=8)

    # Time ----------------------------------------------------------------------------

    def catch_up(self, now: float) -> None:
        """Advance the simulation to the wall clock, within the work budget.

        The budget is per frame interval of the *session*, however many streams
        watch it: a call within half an interval of the last one does nothing."""
        if not self.watched:  # the clock starts when the first stream opens
            self.wall = now
            return
        elapsed = now - self.wall
        engine = self.engine
        if self.paused or self.halted or self.ended or engine.finished or self.controlling:
            self.wall = now
            self.throttled = False
            self.effective_speed = 0.0 if (self.paused or self.halted or engine.finished) else self.speed
            self._collect()
            return
        if elapsed < self.min_gap:
            return
        self.wall = now
        before = engine.now
        reached = engine.advance(before + elapsed * self.speed, self.settings.tick_budget)
        self.throttled = not reached
        self.effective_speed = (engine.now - before) / elapsed
        self._collect()
        self._check_sandbox()

    async def settle(self) -> None:
        """Finish the present instant (a budget may have stopped inside it), one
        budget at a time, letting every other stream run in between."""
        engine = self.engine
        while not engine.settled:
            engine.advance(engine.now, self.settings.tick_budget)
            self._collect()
            self._check_sandbox()
            await anyio.sleep(0)
            engine = self.engine

    def step(self) -> None:
        """Advance to the next moment something happens (or one frame, if nothing will)."""
        engine = self.engine
        target = engine.next_event_time()
        if target is None or target <= engine.now:
            target = engine.now + self.speed / self.settings.frame_rate
        engine.advance(target, self.settings.tick_budget)
        self._collect()
        self._check_sandbox()

    def _collect(self) -> None:
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

    def _check_sandbox(self) -> None:
        engine = self.engine
        held = engine.metrics.in_system
        limit = self.settings.max_items
        if self.halted:
            return
        if held > limit:
            self.halted = (f"This run holds {held:,} items, more than the {limit:,} the playground "
                           "simulates, so it stopped here. Set a memory limit below that to watch "
                           "the service crash instead, or bound the queue.")
            return
        # Calls abandoned in the downstream (abandon=continue) are no longer items the service
        # holds, yet each is a live task here: they count against the same limit.
        calls = engine.service.in_flight if engine.restart_at is None else 0
        if calls > limit:
            self.halted = (f"This run has {calls:,} calls running in the downstream, more than the "
                           f"{limit:,} the playground simulates, so it stopped here. Calls that time "
                           "out go on (abandon=continue) faster than they end: set abandon=stop, or "
                           "a longer call timeout.")

    # Frames -----------------------------------------------------------------------------

    def status(self) -> str:
        if self.ended:
            return "ended"
        if self.halted:
            return "halted"
        if self.engine.finished:
            return "finished"
        if self.paused:
            return "paused"
        return "running"

    def frame(self, cursor: "Cursor", full: bool = False) -> dict:
        """The frame for one stream: state now, and what it has not seen yet."""
        self.frame_number += 1
        engine = self.engine
        if cursor.run != self.run:
            full = True
            cursor.run = self.run
            cursor.window = -1
            cursor.event = self.event_seq - len(self.events)
        # Window indexes are consecutive too: the unseen ones are the last few.
        unseen_windows = min(self.windows[-1][0] - cursor.window, len(self.windows)) if self.windows else 0
        windows = [self.windows[i][1] for i in range(len(self.windows) - unseen_windows, len(self.windows))]
        if self.windows:
            cursor.window = self.windows[-1][0]
        # Event seqs are consecutive and the ring holds the newest: count back from its end.
        unseen = min(self.event_seq - cursor.event, len(self.events))
        take = min(unseen, frames.FRAME_EVENTS)
        skipped = unseen - take
        events = self.events
        new_events = [events[i][1] for i in range(len(events) - take, len(events))]
        cursor.event = self.event_seq
        frame = {
            "n": self.frame_number,
            "run": self.run,
            "t": round(engine.now, 3),
            "status": self.status(),
            "speed": self.speed,
            "effective_speed": round(self.effective_speed, 2),
            "throttled": self.throttled,
            "state": frames.snapshot(engine),
            "windows": windows,
            "events": new_events,
            "events_skipped": skipped,
            "theory": self.explainer.block(engine),
        }
        if frame["status"] in ("finished", "halted"):
            # The run is over: its exact run-wide figures (the CLI's summary), for the page's
            # end-of-run panel, rather than the worst of its metrics windows.
            summary = engine.summary()
            frame["summary"] = {key: frames._r(summary[key], 6) for key in SUMMARY_KEYS}
        message = self.ended or self.halted
        if engine.failure:
            frame["failure"] = engine.failure
            message = message or (f"The program failed at {engine.now:.3f} s: main() raised {engine.failure}. "
                                  f"{engine.metrics.outcomes['completed']} items were handled.")
        if self.throttled and not message:
            message = (f"This scenario needs more work than one session may do per frame: it runs at "
                       f"{self.effective_speed:.2f}x instead of {self.speed:g}x.")
        if message:
            frame["message"] = message
        if full:
            frame["full"] = True
            frame["link"] = engine.scenario.to_link()
            frame["scenario"] = engine.scenario.to_dict()
            frame["paused"] = self.paused
            frame["window_columns"] = frames.WINDOW_COLUMNS
            frame["window"] = engine.window
        return frame

    # Controls ---------------------------------------------------------------------------

    def check_token(self, token: str | None) -> None:
        if token is None or not secrets.compare_digest(token.encode("utf-8", "replace"),
                                                       self.token.encode()):
            raise Forbidden("that token does not control this session.")

    def take_control_token(self, now: float) -> None:
        """Rate-limit controls: a token bucket per session."""
        rate, burst = self.settings.control_rate, self.settings.control_burst
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens < 1:
            wait = max(0.1, math.ceil((1 - self._tokens) / rate * 10) / 10)  # never "0.0 s"
            raise TooManyRequests(f"too many control requests: at most {rate:g} a second; "
                                  f"try again in {wait:.1f} s.", retry_after=max(1, math.ceil(wait)))
        self._tokens -= 1

    def validate(self, body) -> dict:
        """Check a whole control body against the state it will apply to; change
        nothing. Returns what to do: {"set": {...}|None, "action", "n", "speed"}."""
        if not isinstance(body, dict) or not body:
            raise Invalid('a control is a JSON object with any of "set", "action" (with "n"), "speed".')
        unknown = set(body) - {"set", "action", "n", "factor", "seconds", "speed"}
        if unknown:
            key = sorted(map(str, unknown))[0]
            raise Invalid(f"unknown control key {shown(key)}; use set, action (with n for burst, factor "
                          f"and seconds for hiccup) or speed.", field=key)
        if self.ended:
            raise Gone(self.ended)
        speed = body.get("speed")
        if "speed" in body:
            try:
                ok = (not isinstance(speed, bool) and isinstance(speed, (int, float))
                      and SPEED_MIN <= float(speed) <= SPEED_MAX)
            except OverflowError:  # an integer too large for a float
                ok = False
            if not ok:
                raise Invalid(f"speed must be a number from {SPEED_MIN:g} to {SPEED_MAX:g}; "
                              f"got {shown(speed)}.", field="speed")
        action = body.get("action")
        if "action" in body and action not in ACTIONS:
            raise Invalid(f"action must be one of {', '.join(ACTIONS)}; got {shown(action)}.",
                          field="action")
        if "n" in body and action != "burst":
            raise Invalid('"n" goes with "action": "burst".', field="n")
        for key in ("factor", "seconds"):
            if key in body and action != "hiccup":
                raise Invalid(f'"{key}" goes with "action": "hiccup".', field=key)
        if action == "hiccup":
            self.engine.check({"action": "hiccup", "factor": body.get("factor"), "seconds": body.get("seconds")})
        n = body.get("n", 10)
        # The engine's own checks, against its present state (app.py answers its
        # ScenarioError with a 422, as for any Invalid).
        if action == "burst":
            self.engine.check({"action": "burst", "n": n})
        if "set" in body:
            self.engine.check({"set": body["set"]})
        return {"set": body.get("set"), "action": action, "n": n,
                "factor": body.get("factor"), "seconds": body.get("seconds"),
                "speed": float(speed) if speed is not None else None}

    async def control(self, body, clock) -> dict:
        """Apply a control body: all of it, or (with an error) none of it.

        Controls act on a settled present (what replay reproduces), so first the
        session catches up and finishes its current instant, yielding to other
        streams as it goes; then the whole body is checked against that state
        and applied with no await in between."""
        self.validate(body)  # fail fast, before any work
        self.controlling = True  # streams do not move the run on while it settles
        try:
            self.catch_up(clock())
            was_settled = self.engine.settled
            seen = self.event_seq
            await self.settle()
        finally:
            self.controlling = False
        plan = self.validate(body)  # against the state it applies to
        engine = self.engine
        if plan["set"] is not None:
            engine.apply({"set": plan["set"]})
        action = plan["action"]
        if action == "pause":
            self.paused = True
        elif action == "resume":
            self.paused = False
        elif action == "step":
            self.paused = True
            if was_settled or self.event_seq == seen:  # else finishing this instant was the step
                self.step()
        elif action == "reset":
            self.engine = self._new_engine(engine.scenario)
            self.run += 1
            self.halted = None
            self.windows.clear()
            self.events.clear()
            self.wall = clock()
        elif action == "burst":
            engine.apply({"action": "burst", "n": plan["n"]})
        elif action == "drain":
            engine.apply({"action": "drain"})
        elif action == "hiccup":
            engine.apply({"action": "hiccup", "factor": plan["factor"], "seconds": plan["seconds"]})
        if plan["speed"] is not None:
            self.speed = plan["speed"]
        self._collect()
        return self.describe()

    def describe(self) -> dict:
        scenario = self.engine.scenario
        return {"id": self.id, "scenario": scenario.to_dict(), "link": scenario.to_link(),
                "speed": self.speed, "paused": self.paused, "status": self.status(),
                "t": round(self.engine.now, 3)}


class Cursor:
    """What one stream has sent so far: which run, the last window and event."""

    __slots__ = ("run", "window", "event")

    def __init__(self):
        self.run = -1
        self.window = -1
        self.event = 0


class SessionManager:
    """Every live session of this process, under caps, reaped when unwatched."""

    def __init__(self, settings: Settings, clock=time.monotonic):
        self.settings = settings
        self.clock = clock
        self.sessions: dict[str, Session] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()  # id -> why it ended
        self.by_client: Counter = Counter()
        self.streams = 0
        # Counters for /metrics and /healthz.
        self.created = 0
        self.refused: Counter = Counter()
        self.frames_sent = 0
        self.late_ticks = 0
        self.send_timeouts = 0  # streams ended because their client stopped reading
        self.controls: Counter = Counter()
        self.lateness: deque = deque(maxlen=2000)  # (wall time, seconds late) of recent ticks
        # Load shedding: when the process is saturated every stream slows down
        # together (the interval widens) and new sessions are refused, so the
        # server degrades instead of falling over (see governor.py).
        self.governor = Governor(1 / settings.frame_rate, clock=clock)
        self.streams_by_client: Counter = Counter()

    @property
    def frame_interval(self) -> float:
        return self.governor.interval

    @property
    def overloaded(self) -> bool:
        return self.governor.overloaded

    def open_stream(self, session: Session, client: str) -> None:
        """Count a new stream in, under the per-session and per-client caps."""
        settings = self.settings
        if session.streams >= settings.max_streams_per_session:
            self.refused["streams_per_session"] += 1
            raise TooManyRequests(
                f"this session already has {session.streams} open streams, the most one session may "
                f"({settings.max_streams_per_session}); close a tab that shows it.", retry_after=5)
        if self.streams_by_client[client] >= settings.max_streams_per_client:
            self.refused["streams_per_client"] += 1
            raise TooManyRequests(
                f"this address already has {self.streams_by_client[client]} open streams, the most "
                f"one address may ({settings.max_streams_per_client}).", retry_after=10)
        session.streams += 1
        self.streams += 1
        self.streams_by_client[client] += 1

    def close_stream(self, session: Session, client: str) -> None:
        session.streams -= 1
        self.streams -= 1
        self.streams_by_client[client] -= 1
        if self.streams_by_client[client] <= 0:
            del self.streams_by_client[client]
        if session.streams == 0:
            session.idle_since = self.clock()

    def create(self, scenario: Scenario, client: str) -> Session:
        settings = self.settings
        if self.overloaded:
            self.refused["busy"] += 1
            raise Full("the playground is busy: its processor is saturated and its frames are already "
                       "slowed down to keep up; try again shortly.", retry_after=5)
        if len(self.sessions) >= settings.max_sessions:
            self.refused["full"] += 1
            raise Full(f"the playground is full ({settings.max_sessions} sessions); try again shortly.",
                       retry_after=10)
        if self.by_client[client] >= settings.max_sessions_per_client:
            self.refused["per_client"] += 1
            raise Full(f"this address already runs {settings.max_sessions_per_client} sessions, the "
                       "most one address may; close one, or try again shortly.", retry_after=10)
        session = Session(secrets.token_urlsafe(16), secrets.token_urlsafe(24), client, scenario,
                          settings, self.clock())
        self.sessions[session.id] = session
        self.by_client[client] += 1
        self.created += 1
        return session

    def get(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is not None:
            return session
        if session_id in self.ended:
            raise Gone(self.ended[session_id])
        raise NotFound("there is no session with that id; start a new one.")

    def end(self, session: Session, why: str) -> None:
        if session.id not in self.sessions:
            return
        session.ended = why
        del self.sessions[session.id]
        self.by_client[session.client] -= 1
        if self.by_client[session.client] <= 0:
            del self.by_client[session.client]
        self.ended[session.id] = why
        while len(self.ended) > ENDED_MEMORY:
            self.ended.popitem(last=False)

    def reap(self) -> int:
        """End sessions nobody has watched for the grace period, or past their lifetime."""
        now = self.clock()
        settings = self.settings
        reaped = 0
        for session in list(self.sessions.values()):
            if now - session.created > settings.lifetime:
                self.end(session, f"this session reached its lifetime of {_duration(settings.lifetime)} "
                                  "and ended; start a new one to carry on.")
                reaped += 1
            elif session.streams == 0 and now - session.idle_since > settings.grace:
                self.end(session, f"no page watched this session for {settings.grace:g} s, so it ended.")
                reaped += 1
        return reaped

    def note_send_timeout(self) -> None:
        self.send_timeouts += 1

    def note_lateness(self, now: float, late: float) -> None:
        self.lateness.append((now, late))
        if late > 0.05:
            self.late_ticks += 1

    def tick_lateness(self) -> dict:
        """How late frame ticks ran over the last 10 s: p50, p99 and max, in ms."""
        now = self.clock()
        recent = sorted(late for at, late in self.lateness if now - at <= 10)
        if not recent:
            return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        pick = lambda q: recent[min(len(recent) - 1, int(q * len(recent)))]  # noqa: E731
        return {"p50_ms": round(pick(0.5) * 1000, 1), "p99_ms": round(pick(0.99) * 1000, 1),
                "max_ms": round(recent[-1] * 1000, 1)}


def _duration(seconds: float) -> str:
    """Seconds for people: '2 hours', '30 minutes', '45 seconds'."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"
