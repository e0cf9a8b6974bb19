"""Sessions: one sandboxed simulation per browser tab, advanced in real time x speed.

A ``Session`` owns an engine and what a page controls about it (speed,
pause); each frame it catches the engine up with the wall clock, within a
work budget, so one heavy scenario falls behind real time instead of starving
the others. The ``SessionManager`` creates them under caps (reject new work
when full, the handbook's own policy), finds them, and reaps the ones nobody
watches.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import Counter, OrderedDict, deque

import anyio

from playground.model import script
from playground.model.compare import SHARED, Comparison
from playground.model.scenario import (
    FIELDS,
    LinkTooLong,
    Scenario,
    ScenarioError,
    shown,
)
from playground.model.script import RunLink
from playground.sim.engine import Engine
from playground.web import frames, sweep
from playground.web.errors import (
    Conflict,
    Forbidden,
    Full,
    Gone,
    Invalid,
    NotFound,
    TooLarge,
    TooManyRequests,
)
from playground.web.governor import Governor
from playground.web.ratelimit import Bucket
from playground.web.settings import Settings
from playground.web.side import Side, SideCursor

ACTIONS = ("pause", "resume", "step", "reset", "burst", "drain", "hiccup")
#: What a control may do to a comparison: start one (B a copy of A, both from t = 0), fork B from
#: A's run now, swap A and B, stop comparing.
COMPARE = ("start", "fork", "swap", "stop")
#: What a control may do to the session's sweep (the curve).
SWEEP = ("start", "cancel")
#: Where a ``set`` goes while comparing.
TARGETS = ("a", "b", "both")
#: The longest run (sim seconds) a fork replays: beyond it a fork could take seconds of CPU.
FORK_HORIZON = 3600
#: The most work a fork replays, in frames of the session's budget: a replay runs one budget a
#: frame (like the session it stands in for), so a fork is ready within 5 s at 20 frames a second.
REPLAY_FRAMES = 100
#: The most work a link's at= or a Continue from here replays, in frames of the session's budget,
#: and the budgets it takes per frame interval: enough for ten minutes of the heaviest preset
#: (the retry storm after a hiccup: about 400,000 steps), rebuilt in 5 to 8 s beside the live streams.
REWIND_FRAMES = 600
REWIND_BUDGETS = 4
#: Replays running at once in the process; past it a fork is told to try again.
MAX_REPLAYS = 2
#: Sim seconds a replay advances between two collections (windows are 0.5 s; an engine keeps 8).
REPLAY_STRIDE = 1.0
#: Actions that make or move work in the engine: a halted run (the sandbox stopped it) refuses them.
WORK_ACTIONS = ("step", "burst", "drain", "hiccup")
SPEED_MIN, SPEED_MAX = 0.1, 20.0
#: Ended session ids remembered, so their streams answer 410, not 404.
ENDED_MEMORY = 10_000


#: What a finished frame's ``summary`` carries from Engine.summary().
SUMMARY_KEYS = ("sim_time", "throughput", "latency_mean", "latency_p50", "latency_p95", "latency_p99",
                "peak_in_system")


class Replays:
    """The process's replays (a fork rebuilding A's run, a session restored after a restart): how
    many run now, and how often each may take a budget of work (the frame interval, which the
    governor widens under load)."""

    def __init__(self, interval, most: int = MAX_REPLAYS):
        self.interval = interval  # () -> seconds between two budgets of a replay
        self.most = most
        self.running = 0

    async def wait_for_turn(self) -> None:
        """Wait (a frame at a time) until fewer than ``most`` replays run: restores queue here,
        where a fork is refused, since nobody is waiting on a restore's answer."""
        while self.running >= self.most:
            await anyio.sleep(self.interval())


def hash_token(token: str) -> str:
    """What is kept of a token, here and in the store: its sha256, so a leaked state file drives
    nothing (tokens are 24 random bytes: no salt or slow hash is needed against guessing)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


async def replay_side(initial: Scenario, control_log, until: float, budget: int, replays: Replays,
                      script=(), most: float = float("inf"), admit=None) -> Side:
    """A new side whose engine is the run of ``initial`` with ``control_log`` up to ``until``,
    collecting windows as it goes so its charts have the past too; ``script`` (entries after
    ``until``) is left to play on from there.

    Replay is engine work like any other: one ``budget`` a frame interval (as the session it
    stands for would spend), counted among ``replays.running``; the caller checks there is room.
    Past ``most`` steps of work it stops with ReplayTooLong (a link's at= names a moment too
    costly to rebuild)."""
    replays.running += 1
    try:
        side = Side.start(initial)
        copy = side.engine
        copy.admit = admit
        copy.play([*control_log, *script])
        left = budget
        while copy.now < until or not copy.settled:
            before = copy.work
            copy.advance(min(until, copy.now + REPLAY_STRIDE), left)
            side.collect()
            left -= copy.work - before
            if copy.work > most:
                raise ReplayTooLong(copy.now, copy.work)
            if left <= 0:  # this frame's budget is spent: wait for the next frame
                await anyio.sleep(replays.interval())
                left = budget
            else:
                await anyio.sleep(0)
        side.collect()
        return side
    finally:
        replays.running -= 1


class ReplayTooLong(Exception):
    """A replay took more work than it may, having reached sim time ``t``."""

    def __init__(self, t: float, work: int):
        super().__init__(t, work)
        self.t, self.work = t, work


class Session:
    """One running simulation, or two on the same load (a comparison), and the page's controls."""

    def __init__(self, session_id: str, token: str, client: str, scenario: Scenario,
                 settings: Settings, now: float, b: Scenario | None = None, replays: Replays | None = None):
        self.id = session_id
        self.token = token  # a separate secret: knowing the id lets you watch, not drive
        # Only its hash is compared (and stored): a session restored after a restart has no token.
        self.token_hash = hash_token(token) if token is not None else None
        self.client = client
        self.settings = settings
        self.created = now
        self.a = Side.start(scenario)
        self.b: Side | None = Side.start(b) if b is not None else None  # service B, when comparing
        self.dropped = 0  # entries of the link's log dropped by the last control (it took over)
        self.opened_at: float | None = None  # the at= moment a link opened this run at
        self.run = 0  # counts resets; a page clears its charts when it changes
        self.layout = 0  # counts comparisons started, forked, swapped and stopped: a full frame follows
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
        self._controls = Bucket(settings.control_rate, settings.control_burst, now)
        self.sweep: sweep.Sweep | None = None  # the curve of this session's scenario, if asked for
        self.room = None  # the Room (rooms.py) a class watches this session in, if any
        self.replays = replays or Replays(lambda: 1 / settings.frame_rate)
        self.replaying = False  # a fork is rebuilding A's run: other controls wait for it
        # Set while a restart rebuilds this session by replay (keeper.py): its streams wait for
        # it, its clock is held and controls wait. None for a session made in this process.
        self.restored: anyio.Event | None = None
        self.restoring = False
        self.restore_plan: dict | None = None  # what the replay rebuilds it from (keeper.py)

    @property
    def engine(self) -> Engine:
        """Service A's engine (the only one, unless comparing)."""
        return self.a.engine

    @property
    def sides(self) -> tuple[Side, ...]:
        return (self.a,) if self.b is None else (self.a, self.b)

    @property
    def finished(self) -> bool:
        return all(side.engine.finished for side in self.sides)

    def link(self) -> str:
        """The share link of the whole run: how it started (A's link, or the comparison's) and,
        as ``do=``, every control applied since and those of the link still to come."""
        run = self.run_link()
        if self.paused and self.opened_at is not None and self.a.engine.now == self.opened_at:
            return run.to_link(at=self.opened_at)  # still the moment it opened at: a reload opens it again
        return run.to_link()

    def run_link(self) -> RunLink:
        a = self.a.engine
        if self.b is None:
            return RunLink(Comparison(a.initial, None, ()), tuple(script.merge(_whole_log(a), None)))
        b = self.b.engine
        return RunLink(Comparison.of(a.initial, b.initial), tuple(script.merge(_whole_log(a), _whole_log(b))))

    def settings_link(self) -> str:
        """The link of what this session's services are set to now (no log): what a sweep varies."""
        if self.b is None:
            return self.a.engine.scenario.to_link()
        return Comparison.of(self.a.engine.scenario, self.b.engine.scenario).to_link()

    def play(self, run: RunLink) -> None:
        """Give each service its part of a link's log, to apply as the run reaches each entry."""
        self.a.engine.play(run.log("a"))
        if self.b is not None:
            self.b.engine.play(run.log("b"))
        self._arm()

    def _arm(self) -> None:
        """Scripted entries pass the sandbox's checks, as the same control sent live would."""
        for side in self.sides:
            side.engine.admit = self._admit

    def _admit(self, engine: Engine, control: dict) -> None:
        if self.halted:
            raise ScenarioError(f"the run has halted: {self.halted}")
        if control.get("action") == "burst":
            try:
                self._check_room_for(engine, control.get("n", 10))
            except Invalid as error:
                raise ScenarioError(str(error), "n", control.get("n")) from None

    def upcoming(self) -> int:
        """Entries of the link's log still to come (the same on every side that has them)."""
        return max(len(side.engine.script) for side in self.sides)

    def _take_over(self) -> int:
        """A control that changes the run rewrites its future: the link's entries still to come
        are dropped (the link says what was done from here). Returns how many were."""
        dropped = self.upcoming()
        for side in self.sides:
            side.engine.script.clear()
        return dropped

    # Time ----------------------------------------------------------------------------

    def catch_up(self, now: float) -> None:
        """Advance the simulation to the wall clock, within the work budget.

        The budget is per frame interval of the *session*, however many streams
        watch it: a call within half an interval of the last one does nothing.
        A comparison's two engines each get the budget and move to the same sim
        time; one that falls behind is caught up first next time."""
        if not self.watched:  # the clock starts when the first stream opens
            self.wall = now
            return
        self._arm()
        elapsed = now - self.wall
        if self.paused or self.halted or self.ended or self.finished or self.controlling or self.restoring:
            self.wall = now
            self.throttled = False
            self.effective_speed = 0.0 if (self.paused or self.halted or self.finished) else self.speed
            self._collect()
            return
        if elapsed < self.min_gap:
            return
        self.wall = now
        sides = self.sides
        before = min(side.engine.now for side in sides)
        # On a millisecond (where a run stops changes nothing about it): a frame's t, three
        # decimals, is then the exact instant, and a moment copied from it is that state.
        target = script.quantize(before + elapsed * self.speed)
        reached = True
        for side in sides:
            engine = side.engine
            reached = engine.advance(max(target, engine.now), self.settings.tick_budget) and reached
        self.throttled = not reached
        self.effective_speed = (min(side.engine.now for side in sides) - before) / elapsed
        self._collect()
        self._check_sandbox()

    def _lead(self) -> float:
        """The instant a control applies at: the first millisecond at or after the latest side's
        present, so that the link's log (three decimals) names it exactly."""
        return script.quantize(max(side.engine.now for side in self.sides))

    def _lagging(self) -> list[Side]:
        """The sides not yet settled at the control's instant."""
        lead = self._lead()
        return [side for side in self.sides if not side.engine.settled or side.engine.now < lead]

    async def settle(self) -> None:
        """Finish the present instant on every side (a budget may have stopped inside it, or one
        side may be behind the other), one budget at a time, letting every other stream run in
        between, up to the control's millisecond. (This is work the session's own frames would
        do next anyway, and its clock is held meanwhile; unlike a replay it repeats nothing.)"""
        self._arm()
        while lagging := self._lagging():
            lead = self._lead()
            for side in lagging:
                side.engine.advance(lead, self.settings.tick_budget)
            self._collect()
            self._check_sandbox()
            await anyio.sleep(0)

    def step(self) -> None:
        """Advance to the next moment something happens (or one frame, if nothing will)."""
        sides = self.sides
        now = min(side.engine.now for side in sides)
        upcoming = [t for side in sides if (t := side.engine.next_event_time()) is not None and t > now]
        target = min(upcoming) if upcoming else now + self.speed / self.settings.frame_rate
        for side in sides:
            side.engine.advance(max(target, side.engine.now), self.settings.tick_budget)
        self._collect()
        self._check_sandbox()

    def _collect(self) -> None:
        for side in self.sides:
            side.collect()

    def _check_sandbox(self) -> None:
        if self.halted:
            return
        limit = self.settings.max_items
        for name, side in zip("AB", self.sides):
            engine = side.engine
            who = f"Service {name} " if self.b is not None else "This run "
            held = engine.metrics.in_system
            if held > limit:
                self.halted = (f"{who}holds {held:,} items, more than the {limit:,} the playground "
                               "simulates, so it stopped here. Set a memory limit below that to watch "
                               "the service crash instead, or bound the queue.")
                return
            # Calls abandoned in the downstream (abandon=continue) are no longer items the service
            # holds, yet each is a live task here: they count against the same limit.
            calls = engine.service.in_flight if engine.restart_at is None else 0
            if calls > limit:
                self.halted = (f"{who}has {calls:,} calls running in the downstream, more than the "
                               f"{limit:,} the playground simulates, so it stopped here. Calls that time "
                               "out go on (abandon=continue) faster than they end: set abandon=stop, or "
                               "a longer call timeout.")
                return

    # Frames -----------------------------------------------------------------------------

    def status(self) -> str:
        if self.ended:
            return "ended"
        if self.halted:
            return "halted"
        if self.finished:
            return "finished"
        if self.paused:
            return "paused"
        return "running"

    def frame(self, cursor: "Cursor", full: bool = False) -> dict:
        """The frame for one stream: state now, and what it has not seen yet. A comparison's
        frame carries B under ``"b"``, in the same shape as A's own keys."""
        self.frame_number += 1
        engine = self.a.engine
        if cursor.run != self.run or cursor.layout != self.layout:
            full = True
            cursor.run = self.run
            cursor.layout = self.layout
            self.a.rewind(cursor.a)
            if self.b is not None:
                self.b.rewind(cursor.b)
        windows, events, skipped = self.a.unseen(cursor.a)
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
            "events": events,
            "events_skipped": skipped,
        }
        over = frame["status"] in ("finished", "halted")
        if (theory := self.a.theory(self.wall, force=full)) is not None:
            frame["theory"] = theory
        if over:
            # The run is over: its exact run-wide figures (the CLI's summary), for the page's
            # end-of-run panel, rather than the worst of its metrics windows.
            frame["summary"] = _run_summary(engine)
            # And its clock stops at its last event, not at the frame's overshoot past it (nothing
            # happens in between, so the state shown is that instant's).
            frame["t"] = round(frame["summary"]["sim_time"], 3)
        message = self.ended or self.halted
        if self.b is not None:
            b = self.b.engine
            b_windows, b_events, b_skipped = self.b.unseen(cursor.b)
            frame["b"] = {
                "t": round(b.now, 3),
                "state": frames.snapshot(b),
                "windows": b_windows,
                "events": b_events,
                "events_skipped": b_skipped,
            }
            if (theory := self.b.theory(self.wall, force=full)) is not None:
                frame["b"]["theory"] = theory
            frame["outcomes"] = {"a": self.a.outcomes(self.wall), "b": self.b.outcomes(self.wall)}
            if over:
                frame["b"]["summary"] = _run_summary(b)
                frame["b"]["t"] = round(frame["b"]["summary"]["sim_time"], 3)
            if b.failure:
                frame["b"]["failure"] = b.failure
                message = message or (f"Service B failed at {b.ended_at:.3f} s: main() raised {b.failure}. "
                                      f"{b.metrics.outcomes['completed']} items were handled.")
        if engine.failure:
            frame["failure"] = engine.failure
            who = "Service A" if self.b is not None else "The program"
            message = message or (f"{who} failed at {engine.ended_at:.3f} s: main() raised {engine.failure}. "
                                  f"{engine.metrics.outcomes['completed']} items were handled.")
        if self.throttled and not message:
            message = (f"This scenario needs more work than one session may do per frame: it runs at "
                       f"{self.effective_speed:.2f}x instead of {self.speed:g}x.")
        if message:
            frame["message"] = message
        if self.room is not None:
            frame["room"] = self.room.block(self.wall)
        if self.sweep is not None:  # progress only: the curve itself is GET .../sweep, once per change
            frame["sweep"] = {"status": self.sweep.status, "done": self.sweep.done, "total": self.sweep.total}
        scenarios = tuple(side.engine.scenario for side in self.sides)
        if not full and scenarios != cursor.scenarios:
            # A setting changed without a control from this page (the link's log applied an entry,
            # or another page drove): the sliders follow.
            frame["scenario"] = engine.scenario.to_dict()
            frame["settings_link"] = self.settings_link()
            if self.b is not None:
                frame["compare"] = self.comparing()
        cursor.scenarios = scenarios
        if full:
            frame["full"] = True
            frame["link"] = self.link()
            frame["settings_link"] = self.settings_link()  # what the services are set to now: the code view's
            frame["scenario"] = engine.scenario.to_dict()
            frame["paused"] = self.paused
            frame["window_columns"] = frames.WINDOW_COLUMNS
            frame["window"] = engine.window
            if self.b is not None:
                frame["compare"] = self.comparing()
        return frame

    def comparing(self) -> dict | None:
        """What a page needs to show a comparison: B's scenario and what differs."""
        if self.b is None:
            return None
        comparison = Comparison.of(self.a.engine.scenario, self.b.engine.scenario)
        a, b = self.a.engine.scenario.to_dict(), self.b.engine.scenario.to_dict()
        return {"b_scenario": b, "label": comparison.label(),
                "differs": [key for key in FIELDS if a[key] != b[key]]}

    # Controls ---------------------------------------------------------------------------

    def check_token(self, token: str | None) -> None:
        if token is None or not secrets.compare_digest(hash_token(token), self.token_hash or ""):
            raise Forbidden("that token does not control this session.")

    def take_control_token(self, now: float) -> None:
        """Rate-limit controls: a token bucket per session."""
        bucket = self._controls
        if not bucket.take(now):
            wait = bucket.wait()
            raise TooManyRequests(f"too many control requests: at most {bucket.rate:g} a second; "
                                  f"try again in {wait:.1f} s.", retry_after=max(1, math.ceil(wait)))

    def _target(self, to, changes, compare) -> str:
        """Where a ``set`` goes, checked: ``"to"`` is "a" (the default), "b" or "both"."""
        if to is None:
            to = "a"
        if to not in TARGETS:
            raise Invalid(f"to must be one of {', '.join(TARGETS)}; got {shown(to)}.", field="to")
        comparing = self.b is not None or compare == "start"
        if compare in ("swap", "stop", "fork"):
            raise Invalid(f'"set" cannot go with "compare": "{compare}"; send it after.', field="set")
        if to != "a" and not comparing:
            raise Invalid(f'to {shown(to)} needs a comparison: there is no service B; start one with '
                          '"compare": "start" or "fork".', field="to")
        if comparing and to != "both":
            for key in changes:
                if key in SHARED:
                    raise Invalid(f"{key} is shared by A and B (they are fed the same arrivals), so it "
                                  f'cannot change for {to.upper()} alone; send it with "to": "both".',
                                  field=key)
        return to

    def _sides_for(self, to: str) -> tuple[Side, ...]:
        return {"a": (self.a,), "b": (self.b,), "both": (self.a, self.b)}[to]

    def validate(self, body) -> dict:
        """Check a whole control body against the state it will apply to; change
        nothing. Returns what to do: {"set", "to", "action", "n", "speed", "compare", ...}."""
        if not isinstance(body, dict) or not body:
            raise Invalid('a control is a JSON object with any of "set" (with "to"), "action" (with "n"), '
                          '"speed", "compare".')
        unknown = set(body) - {"set", "to", "action", "n", "factor", "seconds", "speed", "compare", "sweep", "open",
                               "paused", "continue_from"}
        if unknown:
            key = sorted(map(str, unknown))[0]
            raise Invalid(f"unknown control key {shown(key)}; use set (with to), action (with n for burst, "
                          f"factor and seconds for hiccup), speed, compare or sweep.", field=key)
        if self.ended:
            raise Gone(self.ended)
        if self.restoring:
            raise Conflict("this session is being rebuilt after the server restarted (a few seconds); "
                           "send this control when its frames flow again.", retry_after=1)
        if self.replaying:
            raise Conflict("a fork is replaying A's run (it takes at most a few seconds); send this "
                           "control when it is done.", retry_after=1)
        if "paused" in body and "open" not in body and "continue_from" not in body:
            raise Invalid('"paused" goes with "open"; to pause the run, send {"action": "pause"}.', field="paused")
        if "open" in body:  # a new scenario (or comparison) in this same session: a lesson's next step
            if not set(body) <= {"open", "paused"}:
                raise Invalid('"open" goes alone (or with "paused": true or false): send the rest after it.',
                              field="open")
            paused = body.get("paused")
            if "paused" in body and not isinstance(paused, bool):
                raise Invalid(f"paused must be true or false; got {shown(paused)}.", field="paused")
            try:
                run = RunLink.from_link(body["open"])
            except LinkTooLong as error:
                raise TooLarge(str(error), field="open") from None
            except ScenarioError as error:
                raise Invalid(str(error), field=error.field or "open") from None
            return {"open": run, "paused": paused}
        if "continue_from" in body:
            return self._check_continue(body)
        if "sweep" in body:
            if set(body) != {"sweep"}:
                raise Invalid('"sweep" goes alone: send it in its own control.', field="sweep")
            if body["sweep"] not in SWEEP:
                raise Invalid(f"sweep must be one of {', '.join(SWEEP)}; got {shown(body['sweep'])}.", field="sweep")
            if body["sweep"] == "start":
                why = sweep.why_no_sweep(self.a.engine.scenario)
                if why:
                    raise Invalid(why, field="sweep")
            return {"sweep": body["sweep"]}
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
        compare = body.get("compare")
        if "compare" in body:
            if compare not in COMPARE:
                raise Invalid(f"compare must be one of {', '.join(COMPARE)}; got {shown(compare)}.",
                              field="compare")
            if action is not None:
                raise Invalid(f'"action" cannot go with "compare"; send one, then the other.', field="action")
            if compare in ("swap", "stop") and self.b is None:
                raise Invalid(f'there is no comparison to {compare}: start one with "compare": "start" '
                              'or "fork".', field="compare")
            if compare == "fork":
                self._check_fork()
        if self.halted and (action in WORK_ACTIONS or compare == "fork"):
            what = "fork" if compare == "fork" else action
            raise Conflict(f"this run has halted, so {what} cannot apply: {self.halted} Reset to run "
                           "it again.", field="compare" if compare == "fork" else "action")
        if "to" in body and "set" not in body:
            raise Invalid('"to" goes with "set".', field="to")
        to = None
        if "set" in body:
            changes = body["set"]
            if not isinstance(changes, dict) or not changes:
                raise Invalid("set must be an object of parameters to change.", field="set")
            to = self._target(body.get("to"), changes, compare)
            # B starts as a copy of A (compare start): then A's scenario is B's to be.
            for side in (self.a,) if compare == "start" else self._sides_for(to):
                side.engine.check({"set": changes})
        # The engine's own checks, against its present state (app.py answers its
        # ScenarioError with a 422, as for any Invalid). Actions go to every side: A and B
        # share their arrivals (a burst) and their downstream's weather (a hiccup).
        for side in self.sides:
            engine = side.engine
            if action == "hiccup":
                engine.check({"action": "hiccup", "factor": body.get("factor"), "seconds": body.get("seconds")})
            if action == "burst":
                n = body.get("n", 10)
                engine.check({"action": "burst", "n": n})
                self._check_room_for(engine, n)
        return {"set": body.get("set"), "to": to, "action": action, "n": body.get("n", 10),
                "factor": body.get("factor"), "seconds": body.get("seconds"), "compare": compare,
                "speed": float(speed) if speed is not None else None}

    def _check_continue(self, body) -> dict:
        """``{"continue_from": T}``: make sim time T of this run the present (Continue from here)."""
        if not set(body) <= {"continue_from", "paused", "compare"}:
            raise Invalid('"continue_from" goes alone (or with "paused", or with "compare": "fork"): send '
                          'the rest after it.', field="continue_from")
        fork = "compare" in body
        if fork and body["compare"] != "fork":
            raise Invalid(f'with continue_from, compare may only be "fork" (B a copy of A at that moment); '
                          f'got {shown(body["compare"])}.', field="compare")
        t = body["continue_from"]
        now = min(side.engine.now for side in self.sides)
        ok = not isinstance(t, bool) and isinstance(t, (int, float)) and 0 <= t <= now
        if not ok:
            raise Invalid(f"continue_from must be a sim time from 0 to {now:.3f} s (this run's present); "
                          f"got {shown(t)}.", field="continue_from")
        paused = body.get("paused", False)
        if not isinstance(paused, bool):
            raise Invalid(f"paused must be true or false; got {shown(paused)}.", field="paused")
        return {"continue_from": round(float(t), 3), "paused": paused, "fork": fork}

    def _check_room_for(self, engine: Engine, n: int) -> None:
        """A burst is refused before it makes anything when its items would take the service past
        the items the sandbox simulates (the cap that halts a run)."""
        limit = self.settings.max_items
        held = engine.metrics.in_system
        if held + n > limit:
            who = f"Service {'A' if engine is self.a.engine else 'B'} " if self.b is not None else "This run "
            raise Invalid(f"a burst of {n:,} would take what {who.lower().strip()} holds from {held:,} to "
                          f"{held + n:,} items, more than the {limit:,} the playground simulates; n may be "
                          f"at most {max(0, limit - held):,} now.", field="n")

    def _check_fork(self) -> None:
        engine = self.a.engine
        most = REPLAY_FRAMES * self.settings.tick_budget
        if engine.work > most:
            raise Invalid(f"Fork B here replays A's run from its start, and this run has taken "
                          f"{engine.work:,} steps of engine work so far, more than the {most:,} a fork may "
                          'replay (5 s of this session\'s budget); use "compare": "start" (both start '
                          "again) instead.", field="compare")
        if engine.now > FORK_HORIZON:
            raise Invalid(f"Fork B here replays A's run from its start, and this run is {engine.now:,.0f} s "
                          f"of sim time long, more than the {FORK_HORIZON:,} s a fork may replay; use "
                          '"compare": "start" (both start again) instead.', field="compare")
        if engine.failure or engine.restart_at is not None:
            raise Invalid("Fork B here needs a running service A; A is down now. Reset, or fork once it "
                          "restarts.", field="compare")

    async def control(self, body, clock) -> dict:
        """Apply a control body: all of it, or (with an error) none of it.

        Controls act on a settled present (what replay reproduces), so first the
        session catches up and finishes its current instant, yielding to other
        streams as it goes; then the whole body is checked against that state
        and applied with no await in between (a fork's replay awaits, and is
        checked again after it)."""
        plan = self.validate(body)
        if plan.get("sweep"):
            return self._sweep(body["sweep"])
        if "continue_from" in plan:
            return await self._continue_from(plan["continue_from"], plan["paused"], clock, fork=plan["fork"])
        if plan.get("open"):
            await self.begin(plan["open"])
            self.run += 1
            self.layout += 1
            self.halted = None
            self.wall = clock()
            if plan["paused"] is not None:  # a short step opens paused at an unplayed t = 0, before any frame moves it
                self.paused = plan["paused"]
            self._check_sandbox()
            return self.describe()
        self.controlling = True  # streams do not move the run on while it settles
        try:
            self.catch_up(clock())
            was_settled = all(side.engine.settled for side in self.sides)
            seen = self.a.event_seq
            await self.settle()
            plan = self.validate(body)  # against the state it applies to
            if plan["compare"] == "fork":
                fork = await self._replay(self.a.engine)
                plan = self.validate(body)  # the run may have ended meanwhile
        finally:
            self.controlling = False
        compare = plan["compare"]
        changes_run = (compare is not None or plan["set"] is not None
                       or plan["action"] in ("reset", "burst", "drain", "hiccup"))
        self.dropped = self._take_over() if changes_run else 0
        if compare == "start":
            self.b = Side.start(self.a.engine.scenario)
            self._reset(clock)
            self.layout += 1
        elif compare == "fork":
            self.b = fork
            self.layout += 1
        elif compare == "swap":
            self.a, self.b = self.b, self.a
            self.layout += 1
        elif compare == "stop":
            self.b = None
            self.layout += 1
        if plan["set"] is not None and self._unstarted():
            # A change before the run has moved past t = 0 is its start: the services start again
            # with it, so the link has it as a key (queue=5), not as an entry (do=0:queue=5).
            self.a, self.b = (self._restarted(side, plan["set"]) if side in self._sides_for(plan["to"]) else side
                              for side in (self.a, self.b))
            if compare != "start":  # (a start counted its new run already)
                self.run += 1
            if self.b is not None:
                self.layout += 1
        elif plan["set"] is not None:
            for side in self._sides_for(plan["to"]):  # after compare: start made B, swap moved them
                side.engine.apply({"set": plan["set"]})
            if self.b is not None:
                self.layout += 1  # what differs between A and B may have changed: a full frame says
        action = plan["action"]
        if action == "pause":
            self.paused = True
        elif action == "resume":
            self.paused = False
        elif action == "step":
            self.paused = True
            if was_settled or self.a.event_seq == seen:  # else finishing this instant was the step
                self.step()
        elif action == "reset":
            self._reset(clock)
        elif action in ("burst", "drain", "hiccup"):
            control = {"action": action}
            if action == "burst":
                control["n"] = plan["n"]
            elif action == "hiccup":
                control.update(factor=plan["factor"], seconds=plan["seconds"])
            for side in self.sides:
                side.engine.apply(control)
        if plan["speed"] is not None:
            self.speed = plan["speed"]
        self._collect()
        return self.describe()

    def _unstarted(self) -> bool:
        """No side has moved past t = 0 or been given a control: changing a setting is changing the start."""
        return all(side.engine.now == 0 and not side.engine.control_log and not side.engine.script
                   for side in self.sides)

    @staticmethod
    def _restarted(side: Side | None, changes: dict) -> Side | None:
        if side is None:
            return None
        return Side.start(side.engine.scenario.replace(**changes))  # validated already, in validate()

    def _sweep(self, what: str) -> dict:
        """Start (again) or cancel the curve of what this session shows now."""
        if self.sweep is not None and not self.sweep.finished:
            self.sweep.cancel()
        if what == "start":
            try:
                self.sweep = sweep.start(self.settings_link(), client=self.client)  # capped per address
            except ScenarioError as error:
                raise Invalid(str(error), field="sweep") from None
        return self.describe()

    def sweep_view(self) -> dict:
        """The curve so far (GET .../sweep): the sweep's points, where the live run sits on it,
        and whether it is still the curve of what the session shows (a change since voids it)."""
        if self.sweep is None:
            raise NotFound("this session has no sweep; start one with {\"sweep\": \"start\"}.")
        view = self.sweep.to_json(sweep.live_rate(self.a.engine.scenario))
        view["current"] = self.sweep.key == sweep.Sweep.key_of(self.settings_link(), self.sweep.arrivals, self.sweep.points)
        return view

    def _reset(self, clock) -> None:
        self.a = Side.start(self.a.engine.scenario)
        if self.b is not None:
            self.b = Side.start(self.b.engine.scenario)
        self.run += 1
        self.halted = None
        self.wall = clock()

    async def _replay(self, engine: Engine) -> Side:
        """A new side whose engine is ``engine``'s run so far, rebuilt from its first scenario and
        its control log, collecting windows as it goes so its charts have the shared past too.

        Replay is engine work like any other: one budget a frame interval (the session's own
        clock is held meanwhile, so the session costs what it always does), at most one replay
        per session and ``Replays.most`` in the process."""
        replays = self.replays
        if replays.running >= replays.most:
            raise Full(f"{replays.running} forks are replaying now, the most this server runs at once; "
                       "try again in a few seconds.", retry_after=2)
        self.replaying = True
        try:
            return await replay_side(engine.initial, list(engine.control_log), engine.now,
                                     self.settings.tick_budget, replays)
        finally:
            self.replaying = False

    async def _continue_from(self, t: float, paused: bool, clock, fork: bool = False) -> dict:
        """Make sim time ``t`` of this run the present: its services rebuilt by replay to there (the
        run's start and its log up to ``t``), the future after it discarded, and the link saying so.
        With ``fork``, B is rebuilt as a copy of A at ``t`` (A's start and A's entries, given to
        both): the two futures part from that moment."""
        run = self.run_link()
        kept = tuple(entry for entry in run.entries if entry.t <= t)
        start = run.comparison
        if fork:
            kept = tuple(script.Entry(entry.t, None, entry.control) for entry in kept if entry.side in (None, "a"))
            start = Comparison.of(start.a, start.a)
        await self.begin(RunLink(start, kept, at=t))  # budgeted, refused past REWIND_FRAMES
        self.opened_at = None
        self.dropped = len(run.entries) - len(kept)
        self.run += 1  # the page's charts start again from the rebuilt past
        self.layout += 1
        self.halted = None
        self.paused = paused
        self.wall = clock()
        self._check_sandbox()
        out = self.describe()
        out["continued_from"] = t
        return out

    async def begin(self, run: RunLink) -> None:
        """Start a link's run in this session: its services from t = 0 with its log to play as
        the run reaches each entry, or, with ``at=``, rebuilt by replay to that moment (budgeted
        like a fork, and refused past the same work) and paused there."""
        comparison = run.comparison
        self.opened_at = None
        if run.at is None:
            self.a = Side.start(comparison.a)
            self.b = Side.start(comparison.b) if comparison.b is not None else None
            self.play(run)
            return
        replays = self.replays
        if replays.running >= replays.most:
            raise Full(f"{replays.running} runs are being rebuilt now, the most this server rebuilds at once; "
                       "try again in a few seconds.", retry_after=2)
        most = REWIND_FRAMES * self.settings.tick_budget
        self.replaying = True
        self.controlling = True  # the run shown holds still while its moment is rebuilt
        try:
            sides = [await replay_side(scenario, [], run.at, REWIND_BUDGETS * self.settings.tick_budget, replays,
                                       script=run.log(name), most=most, admit=self._admit)
                     for name, scenario in (("a", comparison.a), ("b", comparison.b)) if scenario is not None]
        except ReplayTooLong as error:
            raise Invalid(f"at={script.format_time(run.at)} needs the run rebuilt by replay, and it had taken "
                          f"{error.work:,} steps of engine work by {error.t:.1f} s, more than the {most:,} a "
                          "link may replay; open it without at= to play it from the start, or name an "
                          "earlier moment.", field="at") from None
        finally:
            self.replaying = False
            self.controlling = False
        self.a = sides[0]
        self.b = sides[1] if len(sides) > 1 else None
        self._arm()
        self.paused = True
        self.opened_at = run.at

    def describe(self) -> dict:
        scenario = self.a.engine.scenario
        out = {"id": self.id, "scenario": scenario.to_dict(), "link": self.link(), "settings_link": self.settings_link(),
               "speed": self.speed, "paused": self.paused, "status": self.status(),
               "t": round(self.a.engine.now, 3), "upcoming": self.upcoming()}
        if self.dropped:
            out["dropped"] = self.dropped
        if self.b is not None:
            out["compare"] = self.comparing()
        return out


def _whole_log(engine: Engine) -> list[tuple[float, dict]]:
    """What was done to this engine, and what its link still has it do."""
    return [*engine.control_log, *engine.script]


def _run_summary(engine: Engine) -> dict:
    """A finished run's exact run-wide figures (the CLI's summary) for the page's end-of-run panel."""
    summary = engine.summary()
    return {key: frames._r(summary[key], 6) for key in SUMMARY_KEYS}


class Cursor:
    """What one stream has sent so far: which run and layout, and per side the last window and event."""

    __slots__ = ("run", "layout", "a", "b", "scenarios")

    def __init__(self):
        self.run = -1
        self.layout = 0
        self.scenarios = ()  # the services' scenarios this stream last sent
        self.a = SideCursor()
        self.b = SideCursor()

    def state(self) -> tuple:
        """All a frame reads from this cursor, hashable (the scenarios by identity: the cursor holds them)."""
        a, b = self.a, self.b
        return (self.run, self.layout, tuple(map(id, self.scenarios)), a.window, a.event, b.window, b.event)

    def copy_from(self, other: "Cursor") -> None:
        """Take the state another cursor reached (two streams of one session sent the same frame)."""
        self.run, self.layout, self.scenarios = other.run, other.layout, other.scenarios
        self.a.window, self.a.event = other.a.window, other.a.event
        self.b.window, self.b.event = other.b.window, other.b.event


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
        self.ended_total = 0  # sessions ended, ever (the reaper's collector reads it)
        self.refused: Counter = Counter()
        self.frames_sent = 0
        self.late_ticks = 0
        self.round = 0  # the frame ticker's rounds so far (stream.py): one frame per stream each
        self.send_timeouts = 0  # streams ended because their client stopped reading
        self.controls: Counter = Counter()
        self.lateness: deque = deque(maxlen=2000)  # (wall time, seconds late) of recent ticks
        # Load shedding: when the process is saturated every stream slows down
        # together (the interval widens) and new sessions are refused, so the
        # server degrades instead of falling over (see governor.py).
        self.governor = Governor(1 / settings.frame_rate, clock=clock)
        self.streams_by_client: Counter = Counter()  # a tab's own streams, per address
        self.viewers_by_client: Counter = Counter()  # room viewers' streams, per address
        self.replays = Replays(lambda: self.governor.interval)
        self.on_end: list = []  # called with each session that ends (the store forgets it)

    @property
    def frame_interval(self) -> float:
        return self.governor.interval

    @property
    def overloaded(self) -> bool:
        return self.governor.overloaded

    def open_stream(self, session: Session, client: str, viewer: bool = False) -> None:
        """Count a new stream in, under the per-session and per-address caps. A room's viewer
        counts under the room's viewer cap and its address's viewer cap instead: a lecture hall
        behind one school address is a whole room of viewers (each costs one write of bytes made
        once per room), while one address still cannot open more than a room's worth."""
        settings = self.settings
        if viewer:
            if session.room.viewers >= settings.max_room_viewers:
                self.refused["room_viewers"] += 1
                raise TooManyRequests(f"this room already has {session.room.viewers} viewers, the most a room "
                                      f"may ({settings.max_room_viewers}).", retry_after=30)
            if self.viewers_by_client[client] >= settings.max_room_viewers:
                self.refused["viewers_per_client"] += 1
                raise TooManyRequests(
                    f"this address already watches rooms with {self.viewers_by_client[client]} streams, the "
                    f"most one address may ({settings.max_room_viewers}, a room's worth).", retry_after=30)
        else:
            if session.streams - (session.room.viewers if session.room else 0) >= settings.max_streams_per_session:
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
        if viewer:
            session.room.viewers += 1
            self.viewers_by_client[client] += 1
        else:
            self.streams_by_client[client] += 1

    def close_stream(self, session: Session, client: str, viewer: bool = False) -> None:
        session.streams -= 1
        self.streams -= 1
        counts = self.viewers_by_client if viewer else self.streams_by_client
        if viewer:
            session.room.viewers -= 1
        counts[client] -= 1
        if counts[client] <= 0:
            del counts[client]
        if session.streams == 0:
            session.idle_since = self.clock()

    def create(self, scenario: Scenario, client: str, b: Scenario | None = None) -> Session:
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
                          settings, self.clock(), b=b, replays=self.replays)
        self.adopt(session)
        self.created += 1
        return session

    def adopt(self, session: Session) -> None:
        """Count a session in: a new one, or one restored after a restart (which keeps its id)."""
        self.sessions[session.id] = session
        self.by_client[session.client] += 1

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
        if session.sweep is not None:
            session.sweep.cancel()  # nobody will read it
        del self.sessions[session.id]
        self.ended_total += 1
        self.by_client[session.client] -= 1
        if self.by_client[session.client] <= 0:
            del self.by_client[session.client]
        self.ended[session.id] = why
        while len(self.ended) > ENDED_MEMORY:
            self.ended.popitem(last=False)
        for hook in self.on_end:
            hook(session)

    def reap(self) -> int:
        """End sessions nobody has watched for the grace period, or past their lifetime."""
        now = self.clock()
        settings = self.settings
        reaped = 0
        for session in list(self.sessions.values()):
            if session.restoring:  # its page cannot reconnect before it is rebuilt
                continue
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
