"""Random draws: arrival gaps and downstream call times.

The generated asyncio program makes exactly these calls on exactly these
streams, in the same order, so its run and the engine's match to the last bit.
Arrivals and service times use separate streams, so changing how long the
downstream takes does not change when work arrives.
"""

from __future__ import annotations

import math
import random

_log = math.log

#: Shape of the lognormal service time: sigma = 1 gives a heavy tail
#: (p99 is about 6x the mean) while keeping the mean at ``service_time``.
LOGNORMAL_SIGMA = 1.0


def arrival_stream(seed: int) -> random.Random:
    return random.Random(f"arrivals-{seed}")


def service_stream(seed: int) -> random.Random:
    return random.Random(f"service-{seed}")


def poisson_gap(rng: random.Random, rate: float) -> float:
    """Seconds to the next arrival of a Poisson stream: ``rng.expovariate(rate)``.

    This is random.expovariate's own formula (CPython 3.11 to 3.13), written out
    because the engine draws it for every item; tests check both agree."""
    return -_log(1.0 - rng.random()) / rate


def wave_gap(rng: random.Random, rate: float, period: float, now: float) -> float:
    """Seconds to the next arrival of a Poisson stream whose rate swings
    between 0 and 2 x rate over ``period`` seconds (thinning, Lewis & Shedler)."""
    t = now
    while True:
        t += rng.expovariate(2 * rate)
        if rng.random() < (1 + math.sin(2 * math.pi * t / period)) / 2:
            return t - now


def service_time(rng: random.Random, dist: str, mean: float) -> float:
    """Seconds one downstream call takes, before any slowdown."""
    if dist == "constant":
        return mean
    if dist == "exponential":
        return -_log(1.0 - rng.random()) / (1 / mean)  # rng.expovariate(1 / mean)
    return rng.lognormvariate(math.log(mean) - LOGNORMAL_SIGMA**2 / 2, LOGNORMAL_SIGMA)
