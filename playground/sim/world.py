"""What the program calls and lives with, beyond its own code: the downstream's rate limit, the
client's retry budget and backoff.

The generated program has the same classes and functions (codegen's ``_world``), doing the same
arithmetic in the same order on the same random stream, so its run and the engine's stay equal
to the last bit.
"""

from __future__ import annotations

import random
from collections import deque

#: Seconds of history a retry budget looks back over (Finagle's RetryBudget default).
BUDGET_WINDOW = 10.0


def retry_stream(seed: int) -> random.Random:
    return random.Random(f"retries-{seed}")


def bucket_depth(rate_limit: float, rate_burst: int) -> float:
    """The token bucket's depth: ``rate_burst``, or one second's worth (at least 1) if 0."""
    return float(rate_burst) if rate_burst else max(1.0, rate_limit)


class TokenBucket:
    """The downstream's rate limit: ``rate`` calls a second, ``depth`` at once. A call that
    finds no token is refused at once (HTTP 429, "throttled"). Starts full."""

    __slots__ = ("tokens", "at")

    def __init__(self, depth: float):
        self.tokens = depth
        self.at = 0.0

    def take(self, now: float, rate: float, depth: float) -> bool:
        self.tokens = min(depth, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RetryBudget:
    """Retries may be at most ``budget`` times the first attempts of the last BUDGET_WINDOW
    seconds (as Finagle's RetryBudget and gRPC's retry throttling do); past it, no retry."""

    __slots__ = ("firsts", "retries")

    def __init__(self):
        self.firsts: deque = deque()
        self.retries: deque = deque()

    def first(self, now: float) -> None:
        self.firsts.append(now)

    def may_retry(self, now: float, budget: float) -> bool:
        for times in (self.firsts, self.retries):
            while times and times[0] <= now - BUDGET_WINDOW:
                times.popleft()
        if len(self.retries) + 1 > budget * len(self.firsts):
            return False
        self.retries.append(now)
        return True


def backoff(rng: random.Random, jitter: str, base: float, cap: float, attempt: int, previous: float) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...): exponential, capped, with
    the AWS Architecture Blog's jitters ("Exponential Backoff And Jitter"). ``previous`` is the
    last backoff (``base`` before the first), which decorrelated jitter grows from."""
    if jitter == "decorrelated":
        return min(cap, rng.uniform(base, previous * 3))
    ceiling = min(cap, base * 2 ** (attempt - 1))
    if jitter == "none":
        return ceiling
    if jitter == "full":
        return rng.uniform(0, ceiling)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)  # equal
