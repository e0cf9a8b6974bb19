"""What a run measured: fixed windows of sim time, plus running totals.

Bounded whatever the run: a ring of recent closed windows, and totals whose
size does not grow with the number of items (latency percentiles over the whole
run come from a log-bucketed histogram, accurate to 1%).
"""

from __future__ import annotations

import math
from collections import deque

#: Every way an item can leave the system, in display order.
OUTCOMES = ("completed", "rejected", "dropped", "put-timeout", "stale", "timeout", "throttled", "lost")

#: The parts of an item's time in the system, in order.
LATENCY_PARTS = ("put", "queue", "permit", "service")
#: Completions a window's percentiles are computed from, at most (evenly spaced).
WINDOW_SAMPLE = 2000
#: Sim seconds the recent completions are kept for (the "last 10 s" p99 a room shows and asks about).
RECENT_SPAN = 10.0
#: Completions kept for that span at most: far above what 10 s at the top arrival rate completes.
RECENT_CAP = 200_000
#: The histogram's buckets: 1 % wide in log space, from a microsecond (anything shorter counts as it).
_LOG_STEP = math.log(1.01)
_FLOOR = 1e-6
_log = math.log


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) of sorted values, nearest-rank; None if empty."""
    if not sorted_values:
        return None
    rank = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[rank]


class Histogram:
    """Run-long latency percentiles in bounded memory.

    Exact while there are few values (they are kept); past ``EXACT`` values
    they move into buckets 1% wide on a log scale, and a percentile is its
    bucket's middle, clamped to the smallest and largest value seen."""

    __slots__ = ("values", "counts", "total", "low", "high")
    EXACT = 4096

    def __init__(self):
        self.values: list[float] | None = []
        self.counts: dict[int, int] = {}
        self.total = 0
        self.low = math.inf
        self.high = -math.inf

    def copy(self) -> "Histogram":
        other = Histogram()
        other.values = None if self.values is None else list(self.values)
        other.counts = dict(self.counts)
        other.total, other.low, other.high = self.total, self.low, self.high
        return other

    def add(self, value: float) -> None:
        self.total += 1
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        values = self.values
        if values is not None:
            values.append(value)
            if len(values) > self.EXACT:
                for kept in values:
                    self._count(kept)
                self.values = None
        else:
            self._count(value)

    def _count(self, value: float) -> None:
        # Runs for every completed item of a long run: module constants, no max() call.
        index = int(_log((_FLOOR if _FLOOR > value else value) / _FLOOR) / _LOG_STEP)  # max(value, _FLOOR)
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1

    def quantiles(self, *qs: float) -> list[float | None]:
        """Several q-quantiles (0..1, nearest rank, as ``percentile``), sorting the kept values
        once (or scanning the buckets once)."""
        return self.at_ranks([max(1, math.ceil(q * self.total)) for q in qs])

    def quantile(self, q: float) -> float | None:
        return self.quantiles(q)[0]

    def at_ranks(self, ranks: list[int]) -> list[float | None]:
        """The values at 1-based ranks (clamped to 1..total), in one sort or one bucket scan; a
        rank's bucket answers its middle, clamped to the smallest and largest value seen."""
        if not self.total:
            return [None] * len(ranks)
        ranks = [min(max(1, rank), self.total) for rank in ranks]
        if self.values is not None:
            ordered = sorted(self.values)
            return [ordered[rank - 1] for rank in ranks]
        out: dict[int, float] = {}
        wanted = sorted(set(ranks))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            while wanted and seen >= wanted[0]:
                middle = _FLOOR * math.exp((index + 0.5) * _LOG_STEP)
                out[wanted.pop(0)] = min(max(middle, self.low), self.high)
            if not wanted:
                break
        return [out.get(rank, self.high) for rank in ranks]

    def with_intervals(self, *qs: float, z: float = 1.96) -> list[tuple[float | None, tuple | None]]:
        """Each q-quantile with a distribution-free 95 % confidence interval for it: the values at
        the ranks n·q ∓ z·√(n·q·(1−q)) (the binomial count of values below the quantile), all in
        one sort. It takes the values as independent; a queue's latencies are not quite, so the
        interval is, if anything, narrow."""
        if not self.total:
            return [(None, None) for _ in qs]
        n = self.total
        ranks = []
        for q in qs:
            spread = z * math.sqrt(n * q * (1 - q))
            ranks += [max(1, math.ceil(q * n)), math.floor(n * q - spread), math.ceil(n * q + spread)]
        values = self.at_ranks(ranks)
        return [(values[i], (values[i + 1], values[i + 2])) for i in range(0, len(values), 3)]

    def interval(self, q: float, z: float = 1.96) -> tuple[float, float] | None:
        return self.with_intervals(q, z=z)[0][1]


def _parts(done: list) -> tuple[list, list, list, list]:
    """Each completed item's time blocked in put, in the queue, waiting for a permit, in service."""
    put, queue, permit, service = [], [], [], []
    for item, t in done:
        put.append(item.enqueued - item.arrived)
        queue.append(item.got - item.enqueued)
        permit.append(item.started - item.got)
        service.append(t - item.started)
    return put, queue, permit, service


class Window:
    """One closed window of sim time: counts, latency percentiles and levels.

    Its percentiles are computed when first read, not when it closes: a long headless run
    closes tens of thousands of windows nobody reads (and closing one is a sort)."""

    __slots__ = (
        "index", "start", "end", "arrived", "outcomes", "_sample", "_latency_mean", "_latency",
        "_parts", "queue", "in_flight", "memory", "memory_peak", "calls_done", "limit",
    )

    @property
    def latency(self) -> dict:
        if self._latency is None:
            self._summarize()
        return self._latency

    @property
    def parts(self) -> dict:
        if self._parts is None:
            self._summarize()
        return self._parts

    def _summarize(self) -> None:
        sample = self._sample
        latencies = sorted(t - item.arrived for item, t in sample)
        self._latency = {
            "p50": percentile(latencies, 0.50),
            "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "mean": self._latency_mean,
        }
        parts = {}
        for name, values in zip(LATENCY_PARTS, _parts(sample)):
            values.sort()
            parts[name] = {
                "p50": percentile(values, 0.50),
                "p95": percentile(values, 0.95),
                "p99": percentile(values, 0.99),
            }
        self._parts = parts
        self._sample = None  # read once; the items can go

    def to_json(self) -> dict:
        span = self.end - self.start
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "arrived": self.arrived,
            "arrival_rate": self.arrived / span,
            "throughput": self.calls_done / span,
            "goodput": self.outcomes["completed"] / span,
            "outcomes": dict(self.outcomes),
            "latency": self.latency,
            "parts": self.parts,
            "queue": self.queue,
            "in_flight": self.in_flight,
            "memory": self.memory,
            "memory_peak": self.memory_peak,
            "limit": self.limit,
        }


class Metrics:
    """Collects arrivals and outcomes as they happen; closes windows as time passes.

    ``throughput`` counts downstream calls that finished (completed or timed
    out: both used the downstream); ``goodput`` counts completed items only.
    """

    def __init__(self, window: float = 0.5, keep: int = 240):
        self.window = window
        self.windows: deque[Window] = deque(maxlen=keep)  # recent closed windows
        self.closed = 0  # windows closed so far; Window.index counts from 0
        self._end = window  # the open window's end
        # Running totals over the whole run.
        self.arrived = 0
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.latency = Histogram()  # end to end, completed items
        self.latency_sum = 0.0
        # (when, latency) of the completions of the last RECENT_SPAN s: an exact recent p99.
        self.recent: deque = deque(maxlen=RECENT_CAP)
        self._recent_p99: tuple = (None, (None, 0))
        self.sojourn_sum = 0.0  # time in system of every item that left, any outcome
        self.left = 0
        # Time-integral of items in the system (for mean_in_system and Little's law).
        self.in_system = 0
        self.in_system_peak = 0
        self._area = 0.0
        self._area_since = 0.0
        self._reset_open()

    def _reset_open(self) -> None:
        self._arrived = 0
        self._outcomes = dict.fromkeys(OUTCOMES, 0)
        self._calls_done = 0
        self._completed: list = []  # (item, when) for items completed in the open window
        self._window_latency_sum = 0.0
        self._memory_peak = self.in_system

    # Recording -----------------------------------------------------------
    # Hot paths: called for every item, so they do the least they can; a
    # window's percentiles are computed when it is read (Window.latency).

    def arrival(self, now: float) -> None:
        self.arrived += 1
        self._arrived += 1
        self._area += self.in_system * (now - self._area_since)
        self._area_since = now
        self.in_system += 1
        if self.in_system > self._memory_peak:
            self._memory_peak = self.in_system
            if self.in_system > self.in_system_peak:
                self.in_system_peak = self.in_system

    def refused_arrival(self, now: float) -> None:
        """An arrival that a full queue refuses at once (put_nowait raises QueueFull): it
        counts as an arrival and, for that instant, as in the system, but it never held
        memory, so it sets no peak."""
        self.arrived += 1
        self._arrived += 1
        self._area += self.in_system * (now - self._area_since)
        self._area_since = now
        self.in_system += 1

    def completed(self, now: float, item) -> None:
        self._completed.append((item, now))  # window percentiles: at window close
        # Run-long totals now, not at window close: a window can hold tens of
        # thousands of completions, and folding them all at once would be one
        # long pause outside any work budget.
        latency = now - item.arrived
        self.latency.add(latency)
        self.latency_sum += latency
        self.recent.append((now, latency))
        self.sojourn_sum += latency
        self._window_latency_sum += latency
        self.outcomes["completed"] += 1
        self.left += 1
        self._area += self.in_system * (now - self._area_since)
        self._area_since = now
        self.in_system -= 1

    def outcome(self, now: float, item, reason: str) -> None:
        """An item left the system. ``item`` has arrived/enqueued/got/started times."""
        if reason == "completed":
            self.completed(now, item)
            return
        self.outcomes[reason] += 1
        self._outcomes[reason] += 1
        self._area += self.in_system * (now - self._area_since)
        self._area_since = now
        self.in_system -= 1
        self.left += 1
        self.sojourn_sum += now - item.arrived
        if reason == "timeout":
            self._calls_done += 1

    def _advance_area(self, now: float) -> None:
        self._area += self.in_system * (now - self._area_since)
        self._area_since = now

    def lose_all(self, now: float, items_lost: int, time_in_system: float) -> None:
        """A crash: everything in the system is lost at once, after ``time_in_system``
        seconds in it, summed over the lost items."""
        self.outcomes["lost"] += items_lost
        self._outcomes["lost"] += items_lost
        self._advance_area(now)
        self.in_system -= items_lost
        self.left += items_lost
        self.sojourn_sum += time_in_system

    # Windows ---------------------------------------------------------------

    def close_until(self, now: float, queue: int, in_flight: int, limit: int | None = None) -> list[Window]:
        """Close every window that ended at or before ``now``; return them. ``limit``: an
        adaptive limiter's limit then (None with a fixed semaphore)."""
        closed = []
        while self._end <= now:
            window = self.open_window(self._end, queue, in_flight, limit)
            self.windows.append(window)
            closed.append(window)
            self.closed += 1
            self._end = self.closed * self.window + self.window
            self._reset_open()
        return closed

    def open_window(self, end: float, queue: int, in_flight: int, limit: int | None = None) -> Window:
        """The open window as if it closed at ``end`` (changes nothing)."""
        done = self._completed
        window = Window()
        window.limit = limit
        window.index = self.closed
        window.start = self._end - self.window
        window.end = end
        window.arrived = self._arrived
        window.outcomes = dict(self._outcomes)
        window.outcomes["completed"] = len(done)
        window.calls_done = self._calls_done + len(done)
        # Percentiles of a busy window come from an evenly spaced sample (in
        # completion order), so reading a window costs the same however busy.
        window._sample = done if len(done) <= WINDOW_SAMPLE else done[::math.ceil(len(done) / WINDOW_SAMPLE)]
        window._latency_mean = self._window_latency_sum / len(done) if done else None
        window._latency = window._parts = None
        window.queue = queue
        window.in_flight = in_flight
        window.memory = self.in_system
        window.memory_peak = max(self._memory_peak, self.in_system)
        return window

    def recent_p99(self, now: float, span: float = RECENT_SPAN) -> tuple[float | None, int]:
        """The exact p99 (nearest rank, as the run's summary) of the latencies of items completed in
        the last ``span`` s of sim time (``now - span`` excluded), and how many there were."""
        recent = self.recent
        while recent and recent[0][0] <= now - RECENT_SPAN:
            recent.popleft()
        key = (now, span, len(recent))
        if self._recent_p99[0] != key:  # a room's frame and its teacher's ask at the same moment
            latencies = sorted(latency for when, latency in recent if when > now - span)
            self._recent_p99 = (key, (percentile(latencies, 0.99), len(latencies)))
        return self._recent_p99[1]

    def totals_now(self):
        """Run-long (latency sum, latency histogram) of completed items, open window included."""
        return self.latency_sum, self.latency.copy()

    def sojourn_now(self) -> float:
        """Sum of time in system of every item that left, open window included."""
        return self.sojourn_sum

    # Totals -------------------------------------------------------------------

    def area(self, now: float) -> float:
        """The time integral of items in the system from the start to ``now`` (read-only: the
        running sum is not split, so later sums round as they would have)."""
        return self._area + self.in_system * (now - self._area_since)

    def mean_in_system(self, now: float) -> float:
        self._advance_area(now)
        return self._area / now if now > 0 else 0.0
