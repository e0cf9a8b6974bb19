"""CoDel, Controlled Delay (Nichols, Jacobson, McGregor, Iyengar: RFC 8289, 2018), at a worker's get.

The RFC's ``dequeue()`` takes a packet and, while the queue's delay has stood above ``target``
for ``interval``, drops it and takes the next, in one loop. Here a worker takes an item and asks
``drop(sojourn, now, left)``; a dropped item is logged and the worker takes the next at once (its
``get()`` does not suspend while items are there), so the RFC's loop is the worker's loop, one
decision an item. The state moves exactly as the RFC's pseudocode (section 5) moves it:

- ``dodequeue``'s test: the item's sojourn under ``target``, or at most one item left behind it
  (the RFC's ``bytes() <= MAXPACKET``: a backlog of one packet at most), resets ``first_above``; a first sojourn above it starts the
  ``interval`` clock; past it, it is OK to drop.
- In the dropping state each drop moves ``drop_next`` on by ``interval / sqrt(count)``,
  the control law; an item that is not OK to drop leaves the state.
- Entering it drops one item; ``count`` starts again from the drops of the last episode if that
  ended less than 16 intervals ago, else from 1.

The generated program carries the same class (``codegen``), so that a reader learns the
algorithm from it and the parity tests compare the two.
"""

from __future__ import annotations

from math import sqrt


class CoDel:
    """One queue's CoDel state; ``target`` and ``interval`` in seconds, read at each decision
    so a live change applies at the next item."""

    __slots__ = ("target", "interval", "first_above", "dropping", "drop_next", "count", "last_count",
                 "after", "above_since")

    def __init__(self, target: float, interval: float):
        self.target = target
        self.interval = interval
        self.first_above = 0.0  # when the delay will have stood above target for an interval; 0: it is not above
        self.dropping = False
        self.drop_next = 0.0
        self.count = 0  # drops in this (or the last) dropping episode
        self.last_count = 0
        self.after = ""  # "enter" or "drop": the last item was dropped, this one continues the RFC's dequeue
        self.above_since = 0.0  # (for the page) when the delay was first seen above target, this time

    def _ok_to_drop(self, sojourn: float, now: float, left: int) -> bool:
        """The RFC's dodequeue(): has the delay stood above target for an interval?"""
        if sojourn < self.target or left <= 1:
            self.first_above = 0.0
            return False
        if self.first_above == 0.0:
            self.first_above = now + self.interval
            self.above_since = now
            return False
        return now >= self.first_above

    def drop(self, sojourn: float, now: float, left: int) -> bool:
        """Whether to drop the item just taken, which waited ``sojourn`` s, ``left`` items behind it."""
        ok = self._ok_to_drop(sojourn, now, left)
        after, self.after = self.after, ""
        if after == "enter":  # the item taken after the drop that entered the state: served
            return False
        if self.dropping:
            if not ok:
                self.dropping = False
                return False
            if after == "drop":  # the RFC's loop moves drop_next on only for an item still OK to drop
                self.drop_next = self.drop_next + self.interval / sqrt(self.count)
            if now >= self.drop_next:
                self.count += 1
                self.after = "drop"
                self._empty_after_drop(left)
                return True
            return False
        if ok:
            self.dropping = True
            delta = self.count - self.last_count
            self.count = delta if delta > 1 and now - self.drop_next < 16 * self.interval else 1
            self.drop_next = now + self.interval / sqrt(self.count)
            self.last_count = self.count
            self.after = "enter"
            self._empty_after_drop(left)
            return True
        return False

    def _empty_after_drop(self, left: int) -> None:
        """The RFC's dequeue takes the next packet right after a drop; with none left its
        dodequeue() finds the queue empty: no standing delay, and the dropping state ends
        (the state is set after that take when entering, so entering keeps it)."""
        if left == 0:
            self.first_above = 0.0
            if self.after == "drop":
                self.dropping = False
            self.after = ""
