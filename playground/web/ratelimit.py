"""A token bucket: the rate limit behind a session's controls and a room's presses and answers."""

from __future__ import annotations

import math


class Bucket:
    """``burst`` tokens, refilled at ``rate`` a second; ``take(now)`` spends one if there is one."""

    __slots__ = ("tokens", "at", "rate", "burst")

    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst, self.tokens, self.at = rate, burst, float(burst), now

    def take(self, now: float) -> bool:
        if not self.ready(now):
            return False
        self.tokens -= 1
        return True

    def ready(self, now: float) -> bool:
        """Whether a token is there, without spending it."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return self.tokens >= 1

    def wait(self) -> float:
        """Seconds until the next token, rounded up to a tenth (never "0.0 s")."""
        return max(0.1, math.ceil((1 - self.tokens) / self.rate * 10) / 10)
