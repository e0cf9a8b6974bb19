"""The load sweep ("the curve"): p50/p99 latency, goodput and loss against arrival rate, from 10 %
to 200 % of the scenario's capacity, computed headless on the server.

A sweep is a row of finite runs of the same scenario (and of B's, on the same rates), each with
``rate`` set to one point of the row and ``items`` to the sweep's number of arrivals. It shows the
hockey stick: latency flat while the servers keep up, then a knee near 100 %, where the queue
(or the policy that sheds it) takes over. It is a pure function of the link, the number of
arrivals and the number of points, so its result is cached by those and shared by whoever asks.

Where it runs: points go to a process pool shared by the whole server process (``POOL_WORKERS``
processes, niced), one sweep at a time (``MAX_WAITING`` more may wait their turn; past that a
sweep is refused, the handbook's own policy), at most ``MAX_PER_CLIENT`` queued or running per
client address (so one address cannot fill the queue for everyone), one point per task so a sweep
can report progress and be cancelled between points.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import weakref
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from playground.model.compare import Comparison
from playground.model.scenario import FIELDS, Scenario, ScenarioError, format_number
from playground.sim.engine import Engine
from playground.teach import explain
from playground.web.errors import Full, TooManyRequests

#: The row: arrival rates as fractions of capacity, 10 % to 200 % in steps of 10 %.
POINTS = 20
LOW, HIGH = 0.1, 2.0
#: Arrivals per point unless asked otherwise, and what a sweep may ask for.
ARRIVALS = 20_000
ARRIVALS_RANGE = (100, 100_000)

#: A point stops after this many engine callbacks per arrival, and is reported as capped. Runs
#: measured at 4 to 10 callbacks an arrival, retry storms at 25 to 30 (bench/sweep.py); 100 leaves
#: room for real work and stops a runaway (retries of retries) after about 10 s of CPU.
WORK_PER_ARRIVAL = 100
#: ... or once its sim time passes this many times the time its arrivals take to come: a drain
#: 100 times slower than the arrivals is a collapse, and the curve has said so by then.
SIM_TIME_FACTOR = 100
#: Callbacks between two looks at the caps (a look costs next to nothing; 50,000 are ~0.1 s).
CHECK_EVERY = 50_000

#: Worker processes. One: the machine has two cores and the server's event loop, which streams
#: every tab's frames, needs one of them. Measured (bench/README.md, "sweep.py"): a 50 ms tick
#: loop at normal priority beside a no-semaphore sweep was late by p99 4 ms / max 14 ms with one
#: worker, p99 70 ms / max 305 ms with two, although the workers were niced (the kernel groups
#: processes by session, so nice barely weighs against the server). Two workers make a sweep
#: about 1.4 to 1.7 times faster; every stream paying for it is the wrong trade.
POOL_WORKERS = 1
#: Workers run niced anyway: where the kernel does weigh it, a sweep is batch work and frames are not.
NICE = 10
#: Sweeps that may wait for the running one; one more is refused (Full, 503).
MAX_WAITING = 4
#: Sweeps one client address may have queued or running at once; one more is refused (429).
#: A sweep is minutes of the only worker: one address queueing five kept everyone else waiting 14.
MAX_PER_CLIENT = 1
#: Finished sweeps kept, by (A link, B link, arrivals, points).
CACHE_SIZE = 32

STATUSES = ("queued", "running", "done", "cancelled", "failed")


def capacity(scenario: Scenario) -> float:
    """Items a second the service completes at full speed: its servers (explain.servers: workers,
    semaphore or downstream capacity, whichever is smallest) over the mean call time."""
    return explain.servers(scenario) / scenario.service_time


def _bursts_rate(scenario: Scenario) -> float:
    """Items a second that open bursts add on top of the Poisson arrivals, whatever the rate."""
    return scenario.burst / scenario.period if scenario.arrivals == "bursts" else 0.0


def why_no_sweep(scenario: Scenario) -> str | None:
    """Why a sweep over arrival rate means nothing for this scenario, as a sentence; None if it can run."""
    s = scenario
    if s.arrivals == "asap":
        return ("A sweep varies the arrival rate, and with arrivals=asap there is none: closed producers "
                "put as fast as the queue lets them. Choose steady, poisson or wave arrivals to draw the curve.")
    if s.arrivals == "bursts" and s.producer == "closed":
        return (f"A sweep varies the arrival rate, and closed producers with arrivals=bursts ignore it: "
                f"each makes {s.burst} items every {format_number(s.period)} s. Choose steady, poisson or "
                f"wave arrivals, or open producers, to draw the curve.")
    cap = capacity(s)
    bursts = _bursts_rate(s)
    rate = FIELDS["rate"]
    if LOW * cap - bursts < rate.minimum:
        if bursts:
            return (f"The bursts alone bring {bursts:.3g} items/s ({bursts / cap:.0%} of the capacity of "
                    f"{cap:.3g} items/s), so a sweep cannot start at {LOW:.0%} of capacity; make bursts "
                    f"smaller or rarer, or choose poisson arrivals, to draw the curve.")
        return (f"The capacity is {cap:.3g} items/s, so {LOW:.0%} of it is below the lowest rate there is "
                f"({format_number(rate.minimum)} items/s); add workers or shorten the service time.")
    if HIGH * cap - bursts > rate.maximum:
        return (f"The capacity is {cap:.3g} items/s, so {HIGH:.0%} of it is above the highest rate there is "
                f"({format_number(rate.maximum)} items/s); the sweep cannot reach it.")
    return None


def rates(scenario: Scenario, points: int = POINTS) -> list[float]:
    """The mean arrival rates of the row (bursts included), 4 significant digits so each is a tidy link value."""
    cap = capacity(scenario)
    step = (HIGH - LOW) / (points - 1) if points > 1 else 0.0
    return [float(f"{(LOW + i * step) * cap:.4g}") for i in range(points)]


def run_point(link: str, rate: float, arrivals: int) -> dict:
    """Run ``link`` headless with mean arrival rate ``rate`` (bursts included) and ``arrivals``
    items, to its end or to the caps; the point's numbers as a JSON-friendly dict.

    Module-level and called with plain values so a process pool can run it."""
    scenario = Scenario.from_link(link)
    scenario = scenario.replace(rate=rate - _bursts_rate(scenario), items=arrivals)
    expected = arrivals / rate  # sim seconds the arrivals take to come
    # Windows are only bookkeeping here; a few hundred per run at most keeps them cheap at low rates.
    engine = Engine(scenario, window=max(0.5, expected / 100), keep_windows=2, event_cap=0)
    # Run to the end in slices of work, checking the caps between slices. Where a slice ends
    # changes nothing about the run, so a capped point is capped at the same place every time.
    # (run(until) would stop on time, but it also moves the clock on to ``until`` after the end.)
    budget = WORK_PER_ARRIVAL * arrivals
    capped = None
    while not engine.run(None, max_callbacks=CHECK_EVERY):
        budget -= CHECK_EVERY
        if budget <= 0:
            capped = f"stopped after {WORK_PER_ARRIVAL} callbacks per arrival, at {engine.now:.0f} s of sim time"
            break
        if engine.now > SIM_TIME_FACTOR * expected:
            capped = f"stopped at {engine.now:.0f} s of sim time, {SIM_TIME_FACTOR} times what the arrivals take"
            break
    summary = engine.summary()
    arrived, completed, in_system = summary["arrived"], summary["completed"], summary["in_system"]
    sim_time = summary["sim_time"]
    model = explain.model(scenario)
    return {
        "rate": rate,
        "p50": summary["latency_p50"],
        "p99": summary["latency_p99"],
        "mean": summary["latency_mean"],
        "goodput": completed / sim_time if sim_time > 0 else 0.0,
        # Items that ended without completing (rejected, dropped, timed out, stale, lost);
        # a capped point may still hold some, which count as neither.
        "loss": (arrived - completed - in_system) / arrived if arrived else 0.0,
        "completed": completed,
        "arrived": arrived,
        "in_system": in_system,
        "crashes": summary["crashes"],
        "sim_time": sim_time,
        "capped": capped,
        # M/M/c(/K)'s prediction where it applies (explain.model), for the curve's reference line.
        "theory": None if model is None else {key: model[key] for key in ("throughput", "mean_latency", "blocking")},
    }


# The pool -------------------------------------------------------------------------------

_pool: ProcessPoolExecutor | None = None


def _niced() -> None:
    try:
        os.nice(NICE)
    except OSError:  # not allowed here: run at normal priority
        pass


def pool() -> ProcessPoolExecutor:
    """The process-wide pool, started on first use. Spawned, not forked: the server has threads
    (anyio's), and forking a process with threads can copy a held lock into the child."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(POOL_WORKERS, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_niced)
    return _pool


def shutdown() -> None:
    """Stop the pool's processes (for the app's shutdown, and tests). A later sweep starts a new one."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


# One sweep at a time, per event loop (the server has one; tests make several) --------------

class _Gate:
    """The queue in front of the pool: ``turn`` is held by the running sweep, ``active`` holds every
    sweep queued or running."""

    def __init__(self) -> None:
        self.turn = asyncio.Semaphore(1)
        self.active: set[Sweep] = set()
        """Counted in where the task is made and out by its done-callback, which runs even for a task
        cancelled before its first step (a ``finally`` inside the task would never run then, and the
        count leaked until every sweep was refused)."""

    def _live(self) -> list["Sweep"]:
        # A cancelled sweep still in the set is on its way out (it ends at its next step, or after
        # its point under way): it no longer holds a place in the queue.
        return [s for s in self.active if not s._cancelled]

    @property
    def waiting(self) -> int:
        return sum(1 for s in self._live() if s.status == "queued")

    def of_client(self, client: str) -> int:
        return sum(1 for s in self._live() if s.client == client)


_gates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _gate() -> _Gate:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = _Gate()
    return gate


_cache: OrderedDict = OrderedDict()


def _key_link(scenario: Scenario) -> str:
    """The link a sweep depends on: everything but rate and items, which every point sets."""
    return scenario.replace(rate=FIELDS["rate"].default, items=0).to_link()


class Sweep:
    """One sweep of a link (and of its B side, if the link compares two services).

    Start it with ``start()``; read ``status``, ``progress``, ``result`` and ``error`` any time;
    ``await sweep.wait()`` for its end; ``cancel()`` to stop it between points."""

    def __init__(self, link: str, *, arrivals: int = ARRIVALS, points: int = POINTS,
                 client: str | None = None) -> None:
        self.client = client
        """The address that asked (for the per-address cap), or None: not capped (tests, the CLI)."""
        comparison = Comparison.from_link(link)
        self.a = comparison.a
        self.b = comparison.b
        """The two services, B None unless the link has b. keys."""
        why = why_no_sweep(self.a)
        if why is not None:
            raise ScenarioError(why, "arrivals", self.a.arrivals)
        if isinstance(arrivals, bool) or not isinstance(arrivals, int) or not (
                ARRIVALS_RANGE[0] <= arrivals <= ARRIVALS_RANGE[1]):
            raise ScenarioError(f"arrivals must be an integer from {ARRIVALS_RANGE[0]} to {ARRIVALS_RANGE[1]}; "
                                f"got {arrivals!r}.", "arrivals", arrivals)
        if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 100:
            raise ScenarioError(f"points must be an integer from 2 to 100; got {points!r}.", "points", points)
        self.arrivals = arrivals
        self.points = points
        self.capacity = capacity(self.a)
        """A's capacity, items/s; the rates are fractions of it, for A and B alike (same arrivals)."""
        self.rates = rates(self.a, points)
        self.key = self.key_of(link, arrivals, points)
        self.status = "queued"
        self.result: dict[str, list[dict] | None] = {"a": [], "b": None if self.b is None else []}
        """The points done so far, in rate order, per side."""
        self.error: str | None = None
        self.cached = False
        """The result came from the cache: nothing ran."""
        self._cancelled = False
        self._task: asyncio.Task | None = None

    @staticmethod
    def key_of(link: str, arrivals: int, points: int) -> tuple:
        """The cache key of a sweep of ``link``: its sides without the keys each point sets."""
        comparison = Comparison.from_link(link)
        b = None if comparison.b is None else _key_link(comparison.b)
        return (_key_link(comparison.a), b, arrivals, points)

    @property
    def total(self) -> int:
        return self.points * (1 if self.b is None else 2)

    @property
    def done(self) -> int:
        return len(self.result["a"]) + len(self.result["b"] or ())

    @property
    def progress(self) -> float:
        """Points done over points in all, 0 to 1."""
        return self.done / self.total

    @property
    def finished(self) -> bool:
        return self.status in ("done", "cancelled", "failed")

    def cancel(self) -> None:
        """Stop submitting points; the point under way finishes (a process cannot be interrupted
        cheaply), its result is dropped, and the sweep ends "cancelled" with the points it has."""
        if self.finished:
            return
        self._cancelled = True
        if self.status == "queued" and self._task is not None:
            self._task.cancel()  # waiting for its turn: nothing to finish

    async def wait(self) -> "Sweep":
        """Until the sweep has ended (done, cancelled or failed)."""
        if self._task is not None:
            try:
                await asyncio.shield(self._task)
            except asyncio.CancelledError:
                if not self._task.cancelled():  # we were cancelled, not the sweep
                    raise
        return self

    def _from_cache(self) -> bool:
        hit = _cache.get(self.key)
        if hit is None:
            return False
        _cache.move_to_end(self.key)
        self.result, self.status, self.cached = hit, "done", True
        return True

    async def _run(self, gate: "_Gate") -> None:
        """Wait for the turn, then run the points."""
        async with gate.turn:
            self.status = "running"
            # The sweep before this one may have computed the same curve (two tabs, one link).
            if not self._cancelled and not self._from_cache():
                await self._points()

    def _ended(self, gate: "_Gate") -> None:
        """The task's done-callback: however it ended (even cancelled before it ever ran), count it out."""
        gate.active.discard(self)
        if not self.finished:  # cancelled (by cancel() or with the session's task)
            self.status = "cancelled"

    async def _points(self) -> None:
        loop = asyncio.get_running_loop()
        sides = [("a", self.a)] + ([("b", self.b)] if self.b is not None else [])
        # Ascending rate, A then B at each rate: both curves grow together from the left.
        work = [(side, scenario.to_link(), rate) for rate in self.rates for side, scenario in sides]
        results: dict[tuple[str, float], dict] = {}
        running: dict[asyncio.Future, tuple[str, float]] = {}
        while (work and not self._cancelled) or running:
            # Keep the pool's workers busy, no more: a cancel then waits for at most one point each.
            while work and not self._cancelled and len(running) < POOL_WORKERS:
                side, link, rate = work.pop(0)
                running[loop.run_in_executor(pool(), run_point, link, rate, self.arrivals)] = (side, rate)
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for future in finished:
                side, rate = running.pop(future)
                try:
                    results[side, rate] = future.result()
                except BrokenProcessPool:
                    shutdown()  # a worker died (killed, out of memory): the next sweep gets a new pool
                    self.status, self.error = "failed", "The sweep's worker process died; try again."
                except Exception as error:  # a bug in a point: say which, keep the server up
                    self.status = "failed"
                    self.error = f"The sweep failed at rate {format_number(rate)} ({side.upper()}): {error!r}."
                if self.status == "failed":
                    self._cancelled = True  # submit nothing more; let the others finish
                elif not self._cancelled:
                    # Each side's list in rate order (with several workers points may finish out of order).
                    self.result[side] = [results[side, r] for r in self.rates if (side, r) in results]
        if self.status == "failed":
            return
        if self._cancelled:
            self.status = "cancelled"
            return
        self.status = "done"
        _cache[self.key] = self.result
        _cache.move_to_end(self.key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)

    def to_json(self, live_rate: float | None = None) -> dict:
        """What a frame carries: status, progress, the points so far, and where a live run at
        ``live_rate`` items/s (the session's current rate, bursts included) sits on the curve."""
        return {
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "arrivals": self.arrivals,
            "capacity": self.capacity,
            "capacity_b": None if self.b is None else capacity(self.b),
            "rates": self.rates,
            "fractions": [rate / self.capacity for rate in self.rates],
            "a": self.result["a"],
            "b": self.result["b"],
            "live": None if live_rate is None else {"rate": live_rate, "fraction": live_rate / self.capacity},
            "error": self.error,
            "cached": self.cached,
        }


def start(link: str, *, arrivals: int = ARRIVALS, points: int = POINTS, client: str | None = None) -> Sweep:
    """Start sweeping ``link`` on the running event loop and return the Sweep at once.

    A cached curve comes back done, without running anything. Raises ScenarioError (a sentence)
    if the link cannot be swept, TooManyRequests if ``client`` already has MAX_PER_CLIENT sweeps
    queued or running, and Full if MAX_WAITING sweeps already wait for their turn."""
    sweep = Sweep(link, arrivals=arrivals, points=points, client=client)
    if sweep._from_cache():
        return sweep
    gate = _gate()
    if client is not None and (mine := gate.of_client(client)) >= MAX_PER_CLIENT:
        raise TooManyRequests(f"This address already has {mine} sweep{'s' if mine != 1 else ''} queued or "
                              f"running, the most one address may ({MAX_PER_CLIENT}); wait for it to finish "
                              "or cancel it.", field="sweep", retry_after=30)
    if gate.waiting >= MAX_WAITING:
        raise Full(f"The server sweeps one curve at a time and {gate.waiting} are waiting for their turn; "
                   "try again in a minute.", retry_after=60)
    # Counted in here, with the task, so starts in one loop turn all count; out in the done-callback.
    gate.active.add(sweep)
    sweep._task = asyncio.get_running_loop().create_task(sweep._run(gate))
    sweep._task.add_done_callback(lambda _: sweep._ended(gate))
    return sweep


def live_rate(scenario: Scenario) -> float:
    """The mean arrival rate a live run of ``scenario`` offers, on the sweep's axis (bursts included)."""
    return scenario.rate + _bursts_rate(scenario)
