"""Memory that comes back after sessions end.

An engine is a web of cycles (its service and its tasks point back at it, its tasks' generators
at their service), so an ended session's engine is freed only by the cyclic garbage collector,
not when its last reference goes. The server collects rarely on purpose (``cli.py`` sets the
thresholds to 100,000 / 50 / 1000 so full collections do not stall every stream at once), which
in practice means a session that lived long enough to reach the oldest generation is never
freed: under churn RSS only ever grew (75 sessions and 15 rooms a round: about +5 MB a round).

So the reaper asks a ``Collector`` after every sweep: if sessions have ended since the last
collection, it runs one full collection, then hands the freed pages back to the system
(glibc's ``malloc_trim``; Python's allocator keeps what it frees otherwise). A full collection
costs about 0.5 ms per live session (it walks every live object), so collections are spaced by at
least ``1 / SHARE`` times the last one's duration: at most 1 % of the process's time goes to them,
whatever the load. With no sessions ending, one runs every ``IDLE_EVERY`` seconds for any other
cycles that reached the oldest generation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time

#: The most of the process's time full collections may take.
SHARE = 0.01
#: Seconds between collections at least (a churn of sessions is collected at most this often).
MIN_INTERVAL = 2.0
#: Seconds after which a collection runs even if no session ended.
IDLE_EVERY = 300.0


def _malloc_trim():
    """glibc's ``malloc_trim(0)`` (returns free heap pages to the system), or None elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class Collector:
    """Full collections after sessions end, within a share of the process's time."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.trim = _malloc_trim()
        self.seen_ended = 0  # the manager's ended count at the last collection
        self.last = clock()
        self.next_at = self.last  # the earliest the next collection may run
        self.collections = 0
        self.seconds = 0.0  # spent collecting, in total

    def after_reaping(self, ended_total: int) -> bool:
        """Collect if sessions ended since the last collection (or it has been IDLE_EVERY s)
        and the time share allows it; returns whether it collected."""
        now = self.clock()
        if now < self.next_at:
            return False
        if ended_total == self.seen_ended and now - self.last < IDLE_EVERY:
            return False
        self.seen_ended = ended_total
        start = time.perf_counter()
        gc.collect()
        if self.trim is not None:
            self.trim()
        took = time.perf_counter() - start
        self.collections += 1
        self.seconds += took
        self.last = self.clock()
        self.next_at = self.last + max(MIN_INTERVAL, took / SHARE)
        return True
