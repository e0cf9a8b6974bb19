"""Load shedding: slow every stream down together, and refuse new sessions, only
when the process is really saturated, and recover as soon as it is not.

Saturation is read from two numbers, both about the process rather than about
any stream: how late the event loop runs a short sleep (its lag: every stream,
control and signal waits that long), and how much of one CPU the process used.
Lateness of frame ticks is *not* used: streams started together write their
frames in one burst, and the last of N looks late by the burst's length while
the process has CPU to spare (the governor then shed load it could carry).
Lag with a busy CPU means the work does not fit; lag with an idle CPU is a
stall elsewhere (the machine, the collector) that shedding cannot fix.
"""

from __future__ import annotations

import time

#: Seconds between two probes of the event loop's lag.
PROBE_INTERVAL = 0.02
#: Share of one CPU above which the process counts as busy.
BUSY_CPU = 0.85


class Governor:
    """The frame interval every stream uses, widened under saturation, narrowed after."""

    def __init__(self, base_interval: float, *, clock=time.monotonic, cpu_clock=time.process_time):
        self.base_interval = base_interval
        self.interval = base_interval
        self.clock = clock
        self.cpu_clock = cpu_clock
        self._lags: list[float] = []
        self._at = clock()
        self._cpu_at = cpu_clock()
        self.cpu = 0.0  # share of one CPU used over the last period
        self.lag_p90 = 0.0  # seconds, over the last period

    @property
    def overloaded(self) -> bool:
        return self.interval > 1.5 * self.base_interval

    def sample(self, lag: float) -> None:
        """One probe: the event loop ran a ``PROBE_INTERVAL`` sleep ``lag`` seconds late."""
        self._lags.append(max(0.0, lag))

    def govern(self) -> None:
        """Adjust the interval to the period since the last call (about twice a second).

        Always runs to the end, with or without samples, so that a widened interval
        comes back when the load goes away, even with no stream open."""
        now, cpu_now = self.clock(), self.cpu_clock()
        elapsed = now - self._at
        self.cpu = (cpu_now - self._cpu_at) / elapsed if elapsed > 0 else 0.0
        self._at, self._cpu_at = now, cpu_now
        lags = sorted(self._lags)
        self._lags = []
        self.lag_p90 = lags[int(0.9 * (len(lags) - 1))] if lags else 0.0
        if self.cpu >= BUSY_CPU and self.lag_p90 > 0.5 * self.base_interval:
            self.interval = min(self.interval * 1.25, 10 * self.base_interval)
        elif self.cpu < BUSY_CPU or self.lag_p90 < 0.25 * self.base_interval:
            self.interval = max(self.interval / 1.5, self.base_interval)
