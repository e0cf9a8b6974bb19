"""The engine's draws are exactly the generated program's draws."""

import random

from playground.sim import draws


def test_poisson_gap_is_expovariate_bit_for_bit():
    ours, theirs = random.Random("arrivals-7"), random.Random("arrivals-7")
    for rate in (0.1, 1, 20, 72.5, 2000):
        for _ in range(2000):
            assert draws.poisson_gap(ours, rate) == theirs.expovariate(rate)


def test_exponential_service_is_expovariate_bit_for_bit():
    ours, theirs = random.Random("service-7"), random.Random("service-7")
    for mean in (0.001, 0.05, 0.1, 0.15, 3.0):
        for _ in range(2000):
            assert draws.service_time(ours, "exponential", mean) == theirs.expovariate(1 / mean)


def test_constant_and_lognormal_service():
    rng = random.Random(1)
    assert draws.service_time(rng, "constant", 0.15) == 0.15
    samples = [draws.service_time(rng, "lognormal", 0.2) for _ in range(200_000)]
    mean = sum(samples) / len(samples)
    assert abs(mean - 0.2) / 0.2 < 0.02  # the mean is service_time
    assert max(samples) > 10 * 0.2  # and the tail is heavy


def test_wave_gap_rate_swings_with_the_period():
    rng = random.Random(3)
    now, times = 0.0, []
    while now < 2000:
        now += draws.wave_gap(rng, 10.0, 20.0, now)
        times.append(now)
    rising = sum(1 for t in times if (t % 20) < 10)  # sin > 0 in the first half period
    falling = len(times) - rising
    assert abs(len(times) / 2000 - 10) < 0.5  # mean rate is `rate`
    assert rising > 2.5 * falling  # busy half vs quiet half
