"""Random draws: arrival gaps and downstream call times.

The generated asyncio program makes exactly these calls, so its run and the
engine's match to the last bit. Arrival gaps come from a stream, in arrival
order. A call's time comes from no stream at all: from ``luck(seed, item,
attempt)``, a number that belongs to that item's call, whatever happened before
it. So item k brings the same work to every service fed the same arrivals, what
ever their policies refuse, drop or retry (common random numbers: two services
compared on one link differ only by what they do, not by their luck).
"""

from __future__ import annotations

import math
import random
from statistics import NormalDist

_log = math.log

#: Shape of the lognormal service time: sigma = 1 gives a heavy tail
#: (p99 is about 6x the mean) while keeping the mean at ``service_time``.
LOGNORMAL_SIGMA = 1.0


def arrival_stream(seed: int) -> random.Random:
    return random.Random(f"arrivals-{seed}")


_MASK = (1 << 64) - 1
_inv_cdf = NormalDist().inv_cdf


def luck(seed: int, item: int, attempt: int) -> float:
    """A number in (0, 1) that belongs to call number ``attempt`` (0 = the first) of ``item``
    under ``seed``: SplitMix64's finaliser over the three, so it does not depend on the order
    calls are made in, or on which items made one."""
    z = (seed * 0x9E3779B97F4A7C15 + item * 0xD1B54A32D192ED03 + attempt * 0x8CB92BA72F3D8DD7) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (((z ^ (z >> 31)) >> 11) + 0.5) / 9007199254740992.0  # / 2**53


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


def service_time(u: float, dist: str, mean: float) -> float:
    """Seconds one downstream call takes, before any slowdown, for the call's luck ``u``:
    the inverse of the distribution's CDF at ``u``, so the same luck under a longer mean is a
    proportionally longer call."""
    if dist == "constant":
        return mean
    if dist == "exponential":
        return -_log(1.0 - u) * mean
    return math.exp(math.log(mean) - LOGNORMAL_SIGMA**2 / 2 + LOGNORMAL_SIGMA * _inv_cdf(u))
