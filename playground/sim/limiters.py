"""Adaptive concurrency limits (``limiter=aimd|vegas|gradient2``): a semaphore whose number of
permits moves with how the calls went, each rule as Netflix's concurrency-limits writes it
(github.com/Netflix/concurrency-limits, ``concurrency-limits-core/.../limit/``: ``AIMDLimit``,
``VegasLimit``, ``Gradient2Limit``; read at commit 78a74b9, January 2026).

Each class is the generated program's limiter of the same name, line for line (codegen._limiter);
the parity tests hold them to it. What they share is ``AbstractLimiter``'s bookkeeping: a permit
handed over counts the calls in flight at that moment (``createListener``'s ``inFlight``), and a
permit given back reports the call's round trip (from the grant to the release), those in-flight
calls and whether it failed (timed out, throttled: ``onDropped``) to the rule's ``update``, which
is the Java ``_update``. The limit is the integer part of the rule's estimate (``getLimit()``).

Where this differs from the Java, and why:
- A waiting caller waits its turn (first come, first served) instead of being rejected: the
  limiter stands where the handbook's ``asyncio.Semaphore`` stood (Netflix's ``BlockingLimiter``).
- Vegas probes its no-load round trip every ``0.75 × 30 × limit`` samples; the Java draws the
  0.75 at random from [0.5, 1) after each probe. Fixed, a link replays to the bit.
- The lowest limit is ``limit_min`` for every rule (Vegas' Java floor is 1, the default here).
- A sample with no round trip (a call throttled before it left) is not a latency sample: Vegas and
  Gradient2 skip it, as the Java refuses an ``rtt <= 0``.
"""

from __future__ import annotations

import math
from collections import deque

from playground.model.scenario import Scenario
from playground.sim.kernel import DONE, PENDING, Cancelled, Future, Loop


def adaptive_limiter(loop: Loop, s: Scenario) -> AdaptiveLimiter:
    """serve()'s limiter for ``s.limiter`` (not ``fixed``), starting at ``s.limit``."""
    if s.limiter == "aimd":
        return AIMDLimiter(loop, s.limit, s.limit_min, s.limit_max, s.aimd_backoff)
    if s.limiter == "vegas":
        return VegasLimiter(loop, s.limit, s.limit_min, s.limit_max, s.vegas_alpha, s.vegas_beta)
    return Gradient2Limiter(loop, s.limit, s.limit_min, s.limit_max, s.gradient_tolerance, s.gradient_smoothing)


def tune(limiter: AdaptiveLimiter, s: Scenario) -> None:
    """A live change of the rule's own parameters (the bounds and the start are the caller's)."""
    if isinstance(limiter, AIMDLimiter):
        limiter.backoff = s.aimd_backoff
    elif isinstance(limiter, VegasLimiter):
        limiter.alpha, limiter.beta = s.vegas_alpha, s.vegas_beta
    elif isinstance(limiter, Gradient2Limiter):
        limiter.tolerance, limiter.smoothing = s.gradient_tolerance, s.gradient_smoothing


class _Grant(Future):
    """A permit's future: set with the calls in flight once the permit is handed over."""

    __slots__ = ("in_flight",)

    def __init__(self, loop: Loop):
        Future.__init__(self, loop)
        self.in_flight = 0


class AdaptiveLimiter:
    """The permits and their waiters; a rule's ``update`` moves ``limit``.

    The Service reads ``limit``, ``holders`` and ``waiters`` as it does a Semaphore's."""

    __slots__ = ("loop", "limit", "holders", "waiters", "low", "high")

    def __init__(self, loop: Loop, limit: int, low: int, high: int):
        self.loop = loop
        self.limit = limit
        self.holders = 0  # permits in use
        self.waiters = deque()  # futures of tasks waiting for a permit, FIFO
        self.low, self.high = low, high

    def try_acquire(self) -> int:
        """A permit now if one is free and nobody waits: the calls in flight with it; else 0."""
        if self.holders >= self.limit or self.waiters:
            return 0
        self.holders += 1
        return self.holders

    def acquire(self):
        """Wait for a permit (``try_acquire`` failed); returns the calls in flight with it."""
        waiter = _Grant(self.loop)
        self.waiters.append(waiter)
        try:
            yield waiter  # the releaser counted this call in and set the count
        except Cancelled:
            if waiter.state == DONE:
                self.holders -= 1  # handed a permit it will not use
            raise
        return waiter.in_flight

    def release(self, in_flight: int, failed: bool, rtt: float) -> None:
        self.holders -= 1
        self.update(rtt, in_flight, failed)
        self._hand_over()

    def update(self, rtt: float, in_flight: int, failed: bool) -> None:
        raise NotImplementedError

    def set_limit(self, limit: int) -> None:
        """A live change of the starting limit: the limit is that now."""
        self.limit = min(self.high, max(self.low, limit))
        self._hand_over()

    def set_bounds(self, low: int, high: int) -> None:
        """Live new bounds: what it learned is kept, clamped into them."""
        self.low, self.high = low, high
        self.set_limit(self.limit)

    def _hand_over(self) -> None:
        while self.waiters and self.holders < self.limit:
            waiter = self.waiters.popleft()
            if waiter.state == PENDING:  # (a cancelled waiter gets nothing)
                self.holders += 1
                waiter.in_flight = self.holders
                waiter.set_result()


class AIMDLimiter(AdaptiveLimiter):
    """AIMDLimit: a call that failed multiplies the limit by ``backoff`` (truncated); one that
    succeeded while at least half the limit was in use when it got its permit adds one; always
    within [``low``, ``high``]. It reads no latency."""

    __slots__ = ("backoff",)

    def __init__(self, loop: Loop, limit: int, low: int, high: int, backoff: float):
        super().__init__(loop, limit, low, high)
        self.backoff = backoff

    def update(self, rtt: float, in_flight: int, failed: bool) -> None:
        if failed:
            self.limit = int(self.limit * self.backoff)
        elif in_flight * 2 >= self.limit:
            self.limit = self.limit + 1
        self.limit = min(self.high, max(self.low, self.limit))


def log10_floor(n: int) -> int:
    """Netflix's Log10RootIntFunction: max(1, floor(log10(n))) (n >= 1 here: limit_min is)."""
    return max(1, int(math.log10(n)))


class _Estimating(AdaptiveLimiter):
    """A rule that keeps a real-valued estimate; the limit is its integer part."""

    __slots__ = ("estimate",)

    def __init__(self, loop: Loop, limit: int, low: int, high: int):
        super().__init__(loop, limit, low, high)
        self.estimate = float(limit)

    def set_limit(self, limit: int) -> None:
        self.estimate = float(min(self.high, max(self.low, limit)))
        super().set_limit(limit)

    def set_bounds(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self.estimate = min(float(high), max(float(low), self.estimate))
        super().set_limit(int(self.estimate))


class VegasLimiter(_Estimating):
    """VegasLimit (TCP Vegas): the calls queued at the downstream are estimated from how much
    slower this call was than the fastest (no-load) one, ``queue = ceil(limit × (1 - no_load /
    rtt))``; with ``log = log10(limit)`` (at least 1) the limit grows by ``beta × log`` while
    ``queue <= log``, by ``log`` while ``queue < alpha × log``, shrinks by ``log`` when ``queue >
    beta × log`` or a call failed, and otherwise stays. It only grows while at least half of it
    was in use. Every ``0.75 × 30 × limit`` samples it takes the next round trip as the no-load
    one again (a probe: the downstream may have got faster or slower for good)."""

    __slots__ = ("alpha", "beta", "no_load", "probe_count")

    PROBE_EVERY = 0.75 * 30  # the Java's probeJitter (a draw from [0.5, 1)) × probeMultiplier

    def __init__(self, loop: Loop, limit: int, low: int, high: int, alpha: int, beta: int):
        super().__init__(loop, limit, low, high)
        self.alpha, self.beta = alpha, beta
        self.no_load = 0.0  # the fastest round trip seen since the last probe
        self.probe_count = 0

    def update(self, rtt: float, in_flight: int, failed: bool) -> None:
        if rtt <= 0:
            return
        self.probe_count += 1
        if self.PROBE_EVERY * self.estimate <= self.probe_count:
            self.probe_count = 0
            self.no_load = rtt
            return
        if self.no_load == 0 or rtt < self.no_load:
            self.no_load = rtt
            return
        estimate = self.estimate
        queued = math.ceil(estimate * (1 - self.no_load / rtt))
        log = log10_floor(int(estimate))
        if failed:
            new = estimate - log
        elif in_flight * 2 < estimate:
            return
        elif queued <= log:
            new = estimate + self.beta * log
        elif queued < self.alpha * log:
            new = estimate + log
        elif queued > self.beta * log:
            new = estimate - log
        else:
            return
        self.estimate = max(self.low, min(self.high, new))
        self.limit = int(self.estimate)


class Gradient2Limiter(_Estimating):
    """Gradient2Limit: compares this call's round trip with a long-run average of them (an
    exponential average over 600 samples, the first 10 averaged plainly). ``gradient = tolerance
    × long / rtt``, held to [0.5, 1]; the limit moves a ``smoothing`` part of the way to
    ``limit × gradient + 4`` (4: the calls it lets queue). Calls slower than ``tolerance`` times
    the average shrink it (by at most half a step); faster ones let it grow by the 4. When the
    average is more than twice this call's, it is cut by 5 % (latency came back down after a long
    overload). Failures are not read; it only moves while at least half of it was in use."""

    __slots__ = ("tolerance", "smoothing", "long_rtt", "samples", "rtt_sum")

    QUEUE = 4
    LONG_WINDOW = 600
    WARMUP = 10

    def __init__(self, loop: Loop, limit: int, low: int, high: int, tolerance: float, smoothing: float):
        super().__init__(loop, limit, low, high)
        self.tolerance, self.smoothing = tolerance, smoothing
        self.long_rtt = 0.0
        self.samples = 0
        self.rtt_sum = 0.0

    def update(self, rtt: float, in_flight: int, failed: bool) -> None:
        if rtt <= 0:
            return
        estimate = self.estimate
        if self.samples < self.WARMUP:
            self.samples += 1
            self.rtt_sum += rtt
            self.long_rtt = self.rtt_sum / self.samples
        else:
            factor = 2.0 / (self.LONG_WINDOW + 1)
            self.long_rtt = self.long_rtt * (1 - factor) + rtt * factor
        long_rtt = self.long_rtt
        if long_rtt / rtt > 2:
            self.long_rtt = long_rtt * 0.95
        if in_flight < estimate / 2:
            return
        gradient = max(0.5, min(1.0, self.tolerance * long_rtt / rtt))
        new = estimate * gradient + self.QUEUE
        new = estimate * (1 - self.smoothing) + new * self.smoothing
        self.estimate = max(self.low, min(self.high, new))
        self.limit = int(self.estimate)
